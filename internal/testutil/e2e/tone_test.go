package e2e

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestToneFrequency: a 1 kHz beep of 100 ms every second, with noise
// around zero in between, measures 1 kHz.
func TestToneFrequency(t *testing.T) {
	s := make([]float64, 48000*3)
	for i := range s {
		if i%48000 < 4800 {
			s[i] = 0.5 * math.Sin(2*math.Pi*1000*float64(i)/48000)
		} else if i%2 == 0 {
			s[i] = 0.001
		} else {
			s[i] = -0.001
		}
	}
	hz, n := ToneFrequency(s, 48000, 0.1)
	require.InDelta(t, 1000, hz, 5)
	require.Equal(t, 30, n)
}
