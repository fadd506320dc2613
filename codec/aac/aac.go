// Package aac holds the AAC knowledge Tributary needs: AudioSpecificConfig
// and ADTS headers. A thin layer over
// github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio.
//
// Specification: ISO/IEC 14496-3.
package aac

// SamplesPerFrame is the number of samples per channel of an AAC frame
// (960-sample frames exist but are not used in broadcasting).
const SamplesPerFrame = 1024

// MaxFrameSize bounds one raw AAC frame: 6144 bits per channel (ISO/IEC
// 14496-3, 4.5.3.2) for up to 8 channels is 6 KiB; ADTS allows 8191 bytes
// including its header.
const MaxFrameSize = 8191

// Object types (Table 1.17) seen in practice.
const (
	ObjectTypeMain = 1
	ObjectTypeLC   = 2
	ObjectTypeSSR  = 3
	ObjectTypeLTP  = 4
	ObjectTypeSBR  = 5  // HE-AAC
	ObjectTypePS   = 29 // HE-AACv2
)

// sampleRates are the sampling frequencies by samplingFrequencyIndex
// (Table 1.18).
var sampleRates = [13]int{
	96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
}

// channelCounts are the channels by channelConfiguration (Table 1.19);
// 0 means "defined in a program config element".
var channelCounts = [8]int{0, 1, 2, 3, 4, 5, 6, 8}
