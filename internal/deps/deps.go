// Package deps pins modules that packages under construction will import,
// so that parallel work does not have to edit go.mod. It is removed once
// every module here has a real importer.
package deps

import (
	_ "github.com/Eyevinn/mp4ff/mp4"
	_ "github.com/asticode/go-astits"
	_ "github.com/at-wat/ebml-go"
	_ "github.com/datarhei/gosrt"
	_ "github.com/grafov/m3u8"
)
