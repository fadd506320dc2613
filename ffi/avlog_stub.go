//go:build !cgo

package ffi

// SetLogFunc does nothing in this build: there is no codec library.
func SetLogFunc(f func(level LogLevel, msg string)) {}
