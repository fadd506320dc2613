package monitor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuTimes is the first line of /proc/stat: jiffies spent by all CPUs.
type cpuTimes struct {
	idle, total uint64
}

// readProcStat reads the aggregate CPU times of the machine.
func readProcStat(path string) (cpuTimes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return cpuTimes{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses the "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal (guest times are already in user/nice).
// Idle counts idle and iowait.
func parseProcStat(b []byte) (cpuTimes, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, s := range f[1:] {
			if i >= 8 {
				break
			}
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("/proc/stat: bad cpu field %q", s)
			}
			t.total += v
			if i == 3 || i == 4 {
				t.idle += v
			}
		}
		return t, nil
	}
	return cpuTimes{}, errors.New("/proc/stat: no aggregate cpu line")
}

// idleCores turns two samples into idle cores over the interval.
func idleCores(prev, cur cpuTimes, cores float64) (float64, bool) {
	if cur.total <= prev.total || cur.idle < prev.idle {
		return 0, false
	}
	r := float64(cur.idle-prev.idle) / float64(cur.total-prev.total)
	return min(max(r, 0), 1) * cores, true
}
