//go:build race

package ffi

// raceEnabled: the race runtime keeps shadow and sync metadata that grows
// RSS slowly with Go allocations, unrelated to C memory.
const raceEnabled = true
