package url

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
)

// Spooling: an MP4 whose index (moov) may be at the end, served without
// range support, is copied to a temporary file before it is played.
const (
	// MaxSpoolSize bounds the spooled copy of one file.
	MaxSpoolSize = 4 << 30
	// DefaultSpoolBudget bounds the spooled copies of all pulls of a
	// process together (url_spool_budget): two files of the largest size
	// one pull may spool.
	DefaultSpoolBudget = 8 << 30
	// spoolPrefix starts the name of every spool file, followed by the
	// process ID: "pull-<pid>-<random>.mp4".
	spoolPrefix = "pull-"
)

// ErrSpoolFull is returned when spooling a file would go over the spool
// budget of the process.
var ErrSpoolFull = errors.New("the disk budget for spooling URL pulls (url_spool_budget) is used up")

// processStart is when this process started, near enough: spool files
// older than it were left by an earlier process.
var processStart = time.Now()

// DefaultSpoolDir is the spool directory: "tributary-spool-<uid>" in the
// temporary directory ($TMPDIR, else /tmp), private to the user.
func DefaultSpoolDir() string {
	return filepath.Join(os.TempDir(), "tributary-spool-"+strconv.Itoa(os.Getuid()))
}

// spool hands out spool files and keeps the bytes they hold within the
// budget.
type spool struct {
	dir    string
	budget int64
	err    error // why dir cannot be used

	mu   sync.Mutex
	used int64
}

// openSpool prepares dir (created 0700 if missing; an existing one must be
// a directory of this user that others cannot write to, not a symbolic
// link; the files are created 0600) and removes the
// spool files of processes that no longer run.
func openSpool(dir string, budget int64, log logger.Logger) *spool {
	s := &spool{dir: dir, budget: budget}
	if err := prepareSpoolDir(dir); err != nil {
		s.err = fmt.Errorf("spool directory: %w", err)
		log.Warnw("URL pulls cannot spool MP4 files served without range support", s.err)
		return s
	}
	removed, err := cleanSpool(dir, processStart)
	if err != nil {
		log.Warnw("cleaning the spool directory", err, "dir", dir)
	}
	if removed > 0 {
		log.Infow("removed spool files left by earlier processes", "dir", dir, "files", removed)
	}
	return s
}

func prepareSpoolDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by other users (mode %v)", dir, fi.Mode().Perm())
	}
	return checkOwner(dir, fi)
}

// cleanSpool removes the spool files in dir that are older than started
// and whose process is not running (another Tributary may share the
// directory). Other files are left alone.
func cleanSpool(dir string, started time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	var firstErr error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, spoolPrefix) || !e.Type().IsRegular() {
			continue
		}
		pidText, _, _ := strings.Cut(strings.TrimPrefix(name, spoolPrefix), "-")
		if pid, err := strconv.Atoi(pidText); err == nil && pid != os.Getpid() && processRunning(pid) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(started) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		removed++
	}
	return removed, firstErr
}

// spoolFile is one spooled copy being written; Close removes it and gives
// its bytes back to the budget.
type spoolFile struct {
	*os.File
	s *spool
	n int64
}

// create opens a new spool file.
func (s *spool) create() (*spoolFile, error) {
	if s.err != nil {
		return nil, s.err
	}
	f, err := os.CreateTemp(s.dir, spoolPrefix+strconv.Itoa(os.Getpid())+"-*.mp4")
	if err != nil {
		return nil, fmt.Errorf("spool file: %w", err)
	}
	return &spoolFile{File: f, s: s}, nil
}

// fill copies r into the file, at most limit bytes, reserving each write
// from the budget first. It returns the bytes copied, with an error when
// r has more than limit (errTooLarge) or the budget runs out.
func (f *spoolFile) fill(r io.Reader, limit int64) (int64, error) {
	buf := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if f.n+int64(n) > limit {
				return f.n, errTooLarge
			}
			if err := f.s.reserve(int64(n)); err != nil {
				return f.n, err
			}
			w, werr := f.File.Write(buf[:n])
			f.s.release(int64(n - w))
			f.n += int64(w)
			if werr != nil {
				return f.n, werr
			}
		}
		if rerr == io.EOF {
			return f.n, nil
		}
		if rerr != nil {
			return f.n, rerr
		}
	}
}

var errTooLarge = errors.New("larger than the spool limit of one file")

// Close closes and removes the file and releases its bytes.
func (f *spoolFile) Close() error {
	err := f.File.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	f.s.release(f.n)
	f.n = 0
	return err
}

func (s *spool) reserve(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used+n > s.budget {
		return fmt.Errorf("%w: %d of its %d bytes are in use", ErrSpoolFull, s.used, s.budget)
	}
	s.used += n
	return nil
}

func (s *spool) release(n int64) {
	s.mu.Lock()
	s.used -= n
	s.mu.Unlock()
}

// inUse is the bytes spooled now.
func (s *spool) inUse() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}
