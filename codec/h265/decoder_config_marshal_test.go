package h265

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMarshalDecoderConfig round-trips the parameter sets of a 320x240
// stream made by x265 through a record.
func TestMarshalDecoderConfig(t *testing.T) {
	vps, _ := hex.DecodeString("40010c01ffff01600000030090000003000003003c959809")
	sps, _ := hex.DecodeString("42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003c10")
	pps, _ := hex.DecodeString("4401c172b46240")
	info, err := ParseSPS(sps)
	require.NoError(t, err)
	require.Equal(t, 320, info.Width)
	require.Equal(t, 240, info.Height)
	b, err := MarshalDecoderConfig(info, vps, sps, pps)
	require.NoError(t, err)
	var c DecoderConfig
	require.NoError(t, c.Unmarshal(b))
	require.Equal(t, [][]byte{vps}, c.VPS)
	require.Equal(t, [][]byte{sps}, c.SPS)
	require.Equal(t, [][]byte{pps}, c.PPS)
	require.Equal(t, 4, c.LengthSize)
	require.Equal(t, uint8(1), c.GeneralProfileIDC)
}
