package url

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

const moovEnd = "h264_aac_moov_end.mp4" // 51467 bytes, index at the end

// gateSink holds the first frame until released, so that a pull keeps
// its spool file.
type gateSink struct {
	*sink
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *gateSink) Frame(f *media.Frame) error {
	s.once.Do(func() {
		close(s.started)
		<-s.release
	})
	return s.sink.Frame(f)
}

// TestSpoolBudget: the spool budget is shared by the pulls of a Client (of
// the process): while one pull holds its spooled copy, another that needs
// more than what is left fails with ErrSpoolFull and a clear message; the
// bytes come back when the first pull ends, and its file is removed.
func TestSpoolBudget(t *testing.T) {
	srv := serveDir(t, "../../demux/mp4/testdata", true)
	dir := t.TempDir()
	size := int64(51467)
	cl := &Client{AllowPrivate: true, SpoolDir: dir, SpoolBudget: size * 3 / 2}
	require.NoError(t, cl.Initialize())
	defer cl.Close()

	first := &gateSink{sink: newSink(), started: make(chan struct{}), release: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		errc <- Pull(context.Background(), Config{URL: srv.URL + "/" + moovEnd, Client: cl, Sink: first})
	}()
	<-first.started
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.True(t, strings.HasPrefix(files[0].Name(), "pull-"+strconv.Itoa(os.Getpid())+"-"), files[0].Name())
	require.Equal(t, size, cl.spool.inUse())

	err = Pull(context.Background(), Config{URL: srv.URL + "/" + moovEnd + "?k=SECRET", Client: cl, Sink: newSink()})
	require.ErrorIs(t, err, ErrSpoolFull)
	require.Contains(t, err.Error(), "url_spool_budget")
	require.Contains(t, err.Error(), "does not support range requests")
	require.NotContains(t, err.Error(), "SECRET")
	t.Log(err)
	require.Equal(t, size, cl.spool.inUse(), "the failed pull gave its bytes back")

	close(first.release)
	require.NoError(t, <-errc)
	require.Zero(t, cl.spool.inUse())
	files, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, files, "spool files are removed when the pull ends")

	require.NoError(t, Pull(context.Background(), Config{URL: srv.URL + "/" + moovEnd, Client: cl, Sink: newSink()}))

	// A budget of -1 spools nothing.
	off := &Client{AllowPrivate: true, SpoolDir: t.TempDir(), SpoolBudget: -1}
	require.NoError(t, off.Initialize())
	err = Pull(context.Background(), Config{URL: srv.URL + "/" + moovEnd, Client: off, Sink: newSink()})
	require.ErrorIs(t, err, ErrSpoolFull)
}

// TestSpoolCleanupAtStart: Initialize removes the spool files that are
// older than the process and belong to no running process, and leaves
// everything else: other files, files of a running process, files newer
// than this process.
func TestSpoolCleanupAtStart(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	deadPID := gone.Process.Pid
	old := processStart.Add(-time.Hour)
	write := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	stale := write("pull-"+strconv.Itoa(deadPID)+"-123.mp4", old)
	staleOwnPID := write("pull-"+strconv.Itoa(os.Getpid())+"-456.mp4", old) // a pid reused after a crash
	running := write("pull-"+strconv.Itoa(os.Getppid())+"-789.mp4", old)
	fresh := write("pull-"+strconv.Itoa(deadPID)+"-999.mp4", time.Now().Add(time.Minute))
	other := write("notes.txt", old)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "pull-1-dir"), 0o700))

	cl := &Client{SpoolDir: dir}
	require.NoError(t, cl.Initialize())
	for _, p := range []string{stale, staleOwnPID} {
		require.NoFileExists(t, p)
	}
	for _, p := range []string{running, fresh, other} {
		require.FileExists(t, p)
	}
	require.DirExists(t, filepath.Join(dir, "pull-1-dir"))
}

// TestSpoolDirectory: the default directory is private to the user under
// $TMPDIR; a directory others may write to, or a symbolic link, is not
// used, and the pulls that need it say why.
func TestSpoolDirectory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	require.Equal(t, filepath.Join(tmp, "tributary-spool-"+strconv.Itoa(os.Getuid())), DefaultSpoolDir())
	cl := &Client{}
	require.NoError(t, cl.Initialize())
	fi, err := os.Stat(DefaultSpoolDir())
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	srv := serveDir(t, "../../demux/mp4/testdata", true)
	open := filepath.Join(tmp, "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o777))
	link := filepath.Join(tmp, "link")
	require.NoError(t, os.Symlink(DefaultSpoolDir(), link))
	for _, dir := range []string{open, link} {
		c := &Client{AllowPrivate: true, SpoolDir: dir}
		require.NoError(t, c.Initialize())
		err := Pull(context.Background(), Config{URL: srv.URL + "/" + moovEnd, Client: c, Sink: newSink()})
		require.ErrorContains(t, err, "spool directory")
		t.Log(err)
	}
}
