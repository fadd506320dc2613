package ts

import "github.com/tributary-ingress/tributary/codec/h265"

// marshalHVCC builds an HEVCDecoderConfigurationRecord from in-band
// parameter sets (see h265.MarshalDecoderConfig).
func marshalHVCC(info *h265.SPS, vps, sps, pps []byte) ([]byte, error) {
	return h265.MarshalDecoderConfig(info, vps, sps, pps)
}
