package ts

import (
	"errors"
	"fmt"
)

// SCTE-35 constants.
//
// Specification: ANSI/SCTE 35 2023, sections 9.6 (splice_info_section),
// 9.7 (splice commands).
const (
	// StreamTypeSCTE35 is the PMT stream_type of SCTE-35 PIDs.
	StreamTypeSCTE35 = 0x86
	// TableIDSCTE35 is the table_id of a splice_info_section.
	TableIDSCTE35 = 0xfc

	SpliceCommandNull        = 0x00
	SpliceCommandSchedule    = 0x04
	SpliceCommandInsert      = 0x05
	SpliceCommandTimeSignal  = 0x06
	SpliceCommandBandwidth   = 0x07
	SpliceCommandPrivate     = 0xff
	maxPTS                   = 1<<33 - 1
	spliceInfoFixedSize      = 14 // table_id … splice_command_type
	spliceInfoCRCSize        = 4
	spliceInsertMinSize      = 5 // splice_event_id + cancel byte
	spliceTimeSpecifiedSize  = 5 // time_specified_flag + pts_time
	breakDurationSize        = 5 // auto_return + duration
	spliceInsertTrailingSize = 4 // unique_program_id, avail_num, avails_expected
)

// ErrSCTE35CRC is matched by errors about sections whose CRC_32 is wrong.
var ErrSCTE35CRC = errors.New("SCTE-35 section CRC mismatch")

// SpliceInsert is a splice_insert command as reported by
// Demuxer.OnSCTE35: the start (OutOfNetwork) or end of an ad break.
type SpliceInsert struct {
	// EventID is splice_event_id.
	EventID uint32
	// Cancel is splice_event_cancel_indicator: a previously sent event
	// with this EventID is cancelled; the other fields are zero.
	Cancel bool
	// OutOfNetwork is out_of_network_indicator: true at the start of a
	// break (leave the network feed), false at its end.
	OutOfNetwork bool
	// Immediate is splice_immediate_flag: splice at the next opportunity.
	Immediate bool
	// PTS is the splice time in 90 kHz ticks: pts_time + pts_adjustment.
	// SpliceInfoSection.Unmarshal leaves it as in the stream (33-bit);
	// Demuxer.OnSCTE35 gets it on the rebased timeline of the frames.
	// -1 when there is no time (Immediate, Cancel, time_specified_flag 0,
	// component splice mode).
	PTS int64
	// Duration is break_duration in 90 kHz ticks, -1 when absent.
	Duration int64
	// AutoReturn is auto_return of break_duration.
	AutoReturn bool
	// UniqueProgramID, AvailNum and AvailsExpected are as in the command.
	UniqueProgramID uint16
	AvailNum        uint8
	AvailsExpected  uint8
}

// SpliceInfoSection is a splice_info_section. Only splice_insert is
// decoded; other commands keep their type. Encrypted sections are
// reported with Encrypted set and nothing else decoded.
type SpliceInfoSection struct {
	ProtocolVersion uint8
	Encrypted       bool
	// PTSAdjustment is added (modulo 2^33) to every pts_time.
	PTSAdjustment uint64
	Tier          uint16
	CommandType   uint8
	// Insert is the command when CommandType is SpliceCommandInsert.
	// Its PTS already includes PTSAdjustment.
	Insert *SpliceInsert
}

// Unmarshal decodes one splice_info_section from the start of buf and
// checks its CRC_32.
func (s *SpliceInfoSection) Unmarshal(buf []byte) error {
	*s = SpliceInfoSection{}
	if len(buf) < 3 {
		return errs.Malformed("SCTE-35 section of %d bytes", len(buf))
	}
	if buf[0] != TableIDSCTE35 {
		return errs.Malformed("SCTE-35 table_id 0x%02x", buf[0])
	}
	size := 3 + (int(buf[1]&0x0f)<<8 | int(buf[2]))
	if size > len(buf) {
		return errs.Truncated("SCTE-35 section of %d bytes, %d present", size, len(buf))
	}
	if size < spliceInfoFixedSize+2+spliceInfoCRCSize {
		return errs.Malformed("SCTE-35 section_length %d", size-3)
	}
	buf = buf[:size]
	if crc32MPEG2(buf) != 0 {
		return ErrSCTE35CRC
	}
	s.ProtocolVersion = buf[3]
	s.Encrypted = buf[4]&0x80 != 0
	s.PTSAdjustment = uint64(buf[4]&1)<<32 | uint64(be32(buf[5:]))
	s.Tier = uint16(buf[10])<<4 | uint16(buf[11]>>4)
	cmdLen := int(buf[11]&0x0f)<<8 | int(buf[12])
	s.CommandType = buf[13]
	if s.Encrypted {
		return nil
	}
	body := buf[spliceInfoFixedSize : size-spliceInfoCRCSize]
	if cmdLen == 0xfff { // legacy "unknown length"
		cmdLen = len(body)
	}
	if cmdLen > len(body) {
		return errs.Malformed("SCTE-35 splice_command_length %d, %d bytes left", cmdLen, len(body))
	}
	if s.CommandType != SpliceCommandInsert {
		return nil
	}
	ins, err := parseSpliceInsert(body[:cmdLen])
	if err != nil {
		return err
	}
	if ins.PTS >= 0 {
		ins.PTS = int64((uint64(ins.PTS) + s.PTSAdjustment) & maxPTS)
	}
	s.Insert = ins
	return nil
}

// parseSpliceInsert decodes splice_insert().
//
// Specification: ANSI/SCTE 35 2023, section 9.7.3.1; splice_time() 9.8.1;
// break_duration() 9.8.2.
func parseSpliceInsert(b []byte) (*SpliceInsert, error) {
	in := &SpliceInsert{PTS: -1, Duration: -1}
	if len(b) < spliceInsertMinSize {
		return nil, errs.Malformed("SCTE-35 splice_insert of %d bytes", len(b))
	}
	in.EventID = be32(b)
	in.Cancel = b[4]&0x80 != 0
	b = b[5:]
	if in.Cancel {
		return in, nil
	}
	if len(b) < 1 {
		return nil, errs.Malformed("SCTE-35 splice_insert: no flags")
	}
	flags := b[0]
	b = b[1:]
	in.OutOfNetwork = flags&0x80 != 0
	programSplice := flags&0x40 != 0
	durationFlag := flags&0x20 != 0
	in.Immediate = flags&0x10 != 0
	if programSplice && !in.Immediate {
		if len(b) < 1 {
			return nil, errs.Malformed("SCTE-35 splice_time missing")
		}
		if b[0]&0x80 != 0 {
			if len(b) < spliceTimeSpecifiedSize {
				return nil, errs.Malformed("SCTE-35 splice_time truncated")
			}
			in.PTS = int64(b[0]&1)<<32 | int64(be32(b[1:]))
			b = b[spliceTimeSpecifiedSize:]
		} else {
			b = b[1:]
		}
	}
	if !programSplice {
		// Component splice mode (deprecated): per-component times, which
		// we skip; the event has no single PTS.
		if len(b) < 1 {
			return nil, errs.Malformed("SCTE-35 component_count missing")
		}
		n := int(b[0])
		b = b[1:]
		for range n {
			if len(b) < 1 {
				return nil, errs.Malformed("SCTE-35 component truncated")
			}
			b = b[1:]
			if !in.Immediate {
				if len(b) < 1 {
					return nil, errs.Malformed("SCTE-35 component splice_time truncated")
				}
				if b[0]&0x80 != 0 {
					if len(b) < spliceTimeSpecifiedSize {
						return nil, errs.Malformed("SCTE-35 component splice_time truncated")
					}
					b = b[spliceTimeSpecifiedSize:]
				} else {
					b = b[1:]
				}
			}
		}
	}
	if durationFlag {
		if len(b) < breakDurationSize {
			return nil, errs.Malformed("SCTE-35 break_duration truncated")
		}
		in.AutoReturn = b[0]&0x80 != 0
		in.Duration = int64(b[0]&1)<<32 | int64(be32(b[1:]))
		b = b[breakDurationSize:]
	}
	if len(b) < spliceInsertTrailingSize {
		return nil, errs.Malformed("SCTE-35 splice_insert: unique_program_id truncated")
	}
	in.UniqueProgramID = uint16(b[0])<<8 | uint16(b[1])
	in.AvailNum = b[2]
	in.AvailsExpected = b[3]
	return in, nil
}

// Marshal encodes the section (unencrypted; splice_insert in program
// splice mode, or an empty command of another type) with an empty
// descriptor loop and its CRC_32. Insert.PTS is written as pts_time
// (PTS - PTSAdjustment, modulo 2^33).
func (s *SpliceInfoSection) Marshal() ([]byte, error) {
	if s.Encrypted {
		return nil, errors.New("SCTE-35: cannot marshal an encrypted section")
	}
	var cmd []byte
	if s.CommandType == SpliceCommandInsert {
		in := s.Insert
		if in == nil {
			return nil, errors.New("SCTE-35: splice_insert without Insert")
		}
		cmd = be32append(cmd, in.EventID)
		if in.Cancel {
			cmd = append(cmd, 0xff)
		} else {
			cmd = append(cmd, 0x7f)
			flags := byte(0x40 | 0x0f) // program_splice_flag, reserved bits
			if in.OutOfNetwork {
				flags |= 0x80
			}
			if in.Duration >= 0 {
				flags |= 0x20
			}
			if in.Immediate {
				flags |= 0x10
			}
			cmd = append(cmd, flags)
			if !in.Immediate {
				if in.PTS >= 0 {
					t := (uint64(in.PTS) - s.PTSAdjustment) & maxPTS
					cmd = append(cmd, 0xfe|byte(t>>32))
					cmd = be32append(cmd, uint32(t))
				} else {
					cmd = append(cmd, 0x7f)
				}
			}
			if in.Duration >= 0 {
				if in.Duration > maxPTS {
					return nil, fmt.Errorf("SCTE-35: break duration %d", in.Duration)
				}
				b := byte(0x7e) | byte(in.Duration>>32)
				if in.AutoReturn {
					b |= 0x80
				}
				cmd = append(cmd, b)
				cmd = be32append(cmd, uint32(in.Duration))
			}
			cmd = append(cmd, byte(in.UniqueProgramID>>8), byte(in.UniqueProgramID), in.AvailNum, in.AvailsExpected)
		}
	}
	size := spliceInfoFixedSize + len(cmd) + 2 + spliceInfoCRCSize
	b := make([]byte, 0, size)
	b = append(b, TableIDSCTE35, 0x30|byte((size-3)>>8), byte(size-3)) // private_indicator 0, sap_type 3
	b = append(b, s.ProtocolVersion, byte(s.PTSAdjustment>>32)&1)
	b = be32append(b, uint32(s.PTSAdjustment))
	b = append(b, 0xff, byte(s.Tier>>4), byte(s.Tier<<4)|byte(len(cmd)>>8), byte(len(cmd)), s.CommandType) // cw_index 0xff
	b = append(b, cmd...)
	b = append(b, 0, 0) // descriptor_loop_length
	return be32append(b, crc32MPEG2(b)), nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be32append(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// crc32MPEG2 is the CRC of MPEG-2 sections: polynomial 0x04C11DB7, initial
// value 0xFFFFFFFF, no reflection, no final XOR. Over a whole section,
// CRC_32 included, it is 0.
//
// Specification: ITU-T Rec. H.222.0, Annex A.
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, v := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^v]
	}
	return crc
}

var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()
