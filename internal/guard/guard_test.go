package guard

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCall(t *testing.T) {
	require.NoError(t, Call(nil, "x", func() error { return nil }))
	e := errors.New("plain")
	require.Equal(t, e, Call(nil, "x", func() error { return e }))
	err := Call(nil, "FLV demuxer", func() error {
		var b []byte
		_ = b[3] // index out of range
		return nil
	})
	require.ErrorIs(t, err, ErrPanic)
	require.Contains(t, err.Error(), "in the FLV demuxer: runtime error: index out of range")
}
