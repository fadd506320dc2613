package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// Fault tests: what a user sees when a process under Tributary, or
// Tributary itself, fails. Each one breaks a real process (SIGKILL,
// SIGSTOP, a full file system) and checks the ingress records and the
// room afterwards.

// rtmpURL is the publish URL of a stream key on a Tributary process.
func rtmpURL(tr *tributary, key string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, key)
}

// activeStatus reports whether a status claims a running session.
func activeStatus(s livekit.IngressState_Status) bool {
	return s == livekit.IngressState_ENDPOINT_BUFFERING || s == livekit.IngressState_ENDPOINT_PUBLISHING
}

// TestFaultKill9DuringSession kills Tributary with SIGKILL while an RTMP
// push is PUBLISHING and starts it again on the same store. No ingress is
// left claiming a session that no longer exists: the one that was live is
// in ERROR saying the server restarted (with ended_at and its old resource
// ID), an idle one is untouched. The same stream key then publishes again
// at once: a new session (new resource ID, no error) reaches PUBLISHING
// and a viewer receives its video.
func TestFaultKill9DuringSession(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	live := createRTMP(ctx, t, c, "phoenix-room", "phoenix", false)
	idle := createRTMP(ctx, t, c, "phoenix-room", "idle", false)

	ff := ffmpegSmall(t, "ffmpeg-before-crash", rtmpURL(tr, live.StreamKey), 120)
	fctx, stop := ff.WithExit(ctx)
	before := waitState(fctx, t, c, live.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	stop()
	tr.kill9(t)
	waitExit(t, ff, 30*time.Second) // the connection died with the server

	tr = startTributary(t, tributaryOpts{WsURL: lk.URL, StorePath: tr.StorePath})
	restarted := time.Now()
	c = lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	list, err := c.ListIngress(ctx, &livekit.ListIngressRequest{})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)
	byID := map[string]*livekit.IngressInfo{}
	for _, it := range list.Items {
		require.False(t, activeStatus(it.State.GetStatus()), "%s is %s after the restart, but no session runs", it.IngressId, it.State.GetStatus())
		byID[it.IngressId] = it
	}
	got := byID[live.IngressId].GetState()
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, got.GetStatus())
	require.Contains(t, got.GetError(), "ingress server restarted")
	require.Equal(t, before.State.ResourceId, got.GetResourceId(), "the record still names the session that was cut")
	require.Equal(t, before.State.StartedAt, got.GetStartedAt())
	require.GreaterOrEqual(t, got.GetEndedAt(), got.GetStartedAt())
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, byID[idle.IngressId].State.GetStatus())
	require.Empty(t, byID[idle.IngressId].State.GetError())

	// The same key publishes again at once, and a viewer gets the video.
	sub := e2e.NewSubscriber(t, lk, "phoenix-room")
	ff = ffmpegSmall(t, "ffmpeg-after-restart", rtmpURL(tr, live.StreamKey), 60)
	fctx, stop = ff.WithExit(ctx)
	defer stop()
	st := waitState(fctx, t, c, live.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.NotEqual(t, before.State.ResourceId, st.State.ResourceId, "a new session")
	require.Empty(t, st.State.Error, "the new session clears the old error")
	require.Greater(t, st.State.StartedAt, before.State.StartedAt)
	_, err = sub.WaitParticipant(fctx, func(p e2e.Participant) bool {
		return p.Identity == "phoenix" && p.Connected && p.Attributes[livekit.AttrIngressResourceID] == st.State.ResourceId
	})
	require.NoError(t, err)
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "phoenix" && s.MimeType == "video/H264" && s.FirstPacket.After(restarted) &&
			s.Width > 0 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.Equal(t, 640, vt.Width)
	require.InDelta(t, 30, vt.FPS, 8)
}

// reSilent is the reason a user reads in the ingress state when the
// encoder stops sending: the session's no-media watchdog ("no media
// received for 10s: the encoder stopped sending") or the RTMP read
// timeout ("publisher went silent: nothing received for 10s"), whichever
// fires first; both are 10 s.
const reSilent = `^(no media received for 10s: the encoder stopped sending|publisher went silent: nothing received for 10s)$`

// TestFaultSilentPublisher freezes the encoder (SIGSTOP to ffmpeg, its TCP
// connection left open) for longer than the no-media timeout (10 s), in
// passthrough and in transcoding. The session ends by itself: ERROR with
// the reason, no earlier than the timeout, ended_at set, the participant
// leaves the room and the server closes the connection, so that ffmpeg,
// let go again with SIGCONT, fails and exits by itself.
func TestFaultSilentPublisher(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	for _, tc := range []struct {
		name      string
		transcode bool
	}{{"passthrough", false}, {"transcode", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			room, identity := "silent-"+tc.name, "frozen-"+tc.name
			info := createRTMP(ctx, t, c, room, identity, tc.transcode)
			sub := e2e.NewSubscriber(t, lk, room)
			ff := ffmpegSmall(t, "ffmpeg-"+tc.name, rtmpURL(tr, info.StreamKey), 120)
			// Runs before the harness stops ffmpeg: a stopped process
			// ignores SIGTERM until it continues.
			t.Cleanup(func() { _ = syscall.Kill(-ff.PID(), syscall.SIGCONT) })
			fctx, stop := ff.WithExit(ctx)
			waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			_, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
				return s.ParticipantIdentity == identity && s.MimeType == "video/H264" && s.Width > 0 && s.Window >= time.Second
			})
			require.NoError(t, err, "media flows before the encoder freezes")
			stop()

			require.NoError(t, syscall.Kill(-ff.PID(), syscall.SIGSTOP))
			frozen := time.Now()
			end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
			after := time.Since(frozen)
			t.Logf("%s: ERROR %v after SIGSTOP: %q", tc.name, after.Round(100*time.Millisecond), end.State.Error)
			require.Regexp(t, reSilent, end.State.Error)
			// The timeout runs from the last frame Tributary got, which
			// left ffmpeg just before SIGSTOP (a stall of ffmpeg on a
			// loaded machine makes it earlier: hence 8 s, not 10).
			require.GreaterOrEqual(t, after, 8*time.Second, "not before the timeout")
			// ERROR is written when the session fails, ended_at once it
			// has left the room (a moment later): wait for it.
			for end.State.EndedAt == 0 && time.Since(frozen) < after+15*time.Second {
				time.Sleep(100 * time.Millisecond)
				res, err := c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: info.IngressId})
				require.NoError(t, err)
				end = res.Items[0]
			}
			require.NotZero(t, end.State.EndedAt, "ended_at is set once the session ended")
			_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == identity && !p.Connected })
			require.NoError(t, err, "the participant leaves the room")

			require.NoError(t, syscall.Kill(-ff.PID(), syscall.SIGCONT))
			waitExit(t, ff, 30*time.Second)
			require.Error(t, ff.Err(), "the server closed the connection: ffmpeg's push fails")
			cur, err := c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: info.IngressId})
			require.NoError(t, err)
			require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, cur.Items[0].State.GetStatus(), "the ingress stays ended")
			require.Equal(t, end.State.Error, cur.Items[0].State.GetError())
		})
	}
}

// TestFaultRedisRestart restarts redis-server (SIGKILL, then a new empty
// server on the same port) under a livekit-server cluster with one
// Tributary worker. The worker stays up and finds the bus again by itself:
// an RTMP ingress created through livekit-server after the restart takes
// a push on the worker (authorized over psrpc: the worker's reply
// subscription is back), reaches PUBLISHING and a viewer receives the
// video; a URL ingress created after the restart is started by
// StartIngress on the worker (its server subscription from before the
// restart is back) and plays to COMPLETE.
func TestFaultRedisRestart(t *testing.T) {
	env := startClusterEnv(t)
	dir := t.TempDir()
	makeMedia(t, filepath.Join(dir, "clip.mp4"), "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3",
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-c:a", "aac")
	base := serveFiles(t, dir)
	w := env.startWorker(t, "worker", "cpu_cost:\n  rtmp_cpu_cost: 0.01\n  url_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	env.redis.Restart(t)
	restarted := time.Now()
	// The new redis-server is stopped first at cleanup (the last one
	// registered): stop its clients before, so that they end with a bus.
	t.Cleanup(func() {
		_ = syscall.Kill(w.PID(), syscall.SIGTERM)
		waitExit(t, w.Process, 30*time.Second)
		env.lk.Kill(t)
	})

	// livekit-server reconnects to Redis on its own schedule: retry the
	// create until it answers (the records of the old Redis are gone).
	var info *livekit.IngressInfo
	for {
		var err error
		info, err = env.ingress.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, Name: "after", RoomName: "redis-room", ParticipantIdentity: "after",
		})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("livekit-server never took CreateIngress after the Redis restart: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("livekit-server took CreateIngress %v after the Redis restart", time.Since(restarted).Round(100*time.Millisecond))
	select {
	case <-w.Done():
		t.Fatalf("the worker exited when Redis went away: %v", w.Err())
	default:
	}

	// livekit-server lists itself in Redis again on its next stats update;
	// until then it has no node to put a room on.
	rooms := lksdk.NewRoomServiceClient(env.lk.HTTPURL, e2e.DevAPIKey, e2e.DevAPISecret)
	for {
		_, err := rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "redis-room"})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("livekit-server never created a room after the Redis restart: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("livekit-server created a room %v after the Redis restart", time.Since(restarted).Round(100*time.Millisecond))

	sub := e2e.NewSubscriber(t, env.lk, "redis-room")
	ff := ffmpegSmall(t, "ffmpeg-after", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w.RTMPPort, info.StreamKey), 60)
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	st := waitState(fctx, t, env.ingress, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Regexp(t, `^RT_\w{12}$`, st.State.ResourceId)
	require.Empty(t, st.State.Error)
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "after" && s.MimeType == "video/H264" && s.Width > 0 && s.Window >= time.Second
	})
	require.NoError(t, err)
	require.Equal(t, 640, vt.Width)
	require.Contains(t, w.Tail(1<<20), info.IngressId, "the worker ran the session")

	// livekit-server asks the workers to bid for a URL ingress; without a
	// bid CreateIngress fails.
	u := createURL(ctx, t, env.ingress, "redis-room", "clip", base+"/clip.mp4", nil)
	end := waitState(ctx, t, env.ingress, u.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	require.Empty(t, end.State.Error)
	require.Contains(t, w.Tail(1<<20), u.IngressId, "the worker played it")
}

// fullDisk is a way to make the store's writes fail and succeed again.
type fullDisk struct {
	// fill makes every further growth of files in dir fail.
	fill func(t *testing.T)
	// free undoes fill.
	free func(t *testing.T)
	// errText is the system error the API answer must name.
	errText string
	// persists is true when the fault outlives the process (a full file
	// system does, a process's rlimit does not).
	persists bool
}

// tmpfsDisk mounts a small tmpfs at dir (unmounted at cleanup); fill writes
// a file until the file system is full (ENOSPC), free removes it. It
// reports false when this process may not mount.
func tmpfsDisk(t *testing.T, dir string) (*fullDisk, bool) {
	t.Helper()
	if err := syscall.Mount("tributary-e2e", dir, "tmpfs", 0, "size=512k,mode=0700"); err != nil {
		t.Logf("cannot mount a tmpfs at %s: %v", dir, err)
		return nil, false
	}
	// Registered before Tributary starts, so it runs after it is stopped.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	filler := filepath.Join(dir, "filler")
	return &fullDisk{
		fill: func(t *testing.T) {
			f, err := os.Create(filler)
			require.NoError(t, err)
			defer f.Close()
			buf := make([]byte, 4096)
			for {
				if _, err := f.Write(buf); err != nil {
					require.ErrorIs(t, err, syscall.ENOSPC)
					return
				}
			}
		},
		free:     func(t *testing.T) { require.NoError(t, os.Remove(filler)) },
		errText:  "no space left on device",
		persists: true,
	}, true
}

// rlimitDisk limits the size of any file the Tributary process writes to
// what the store has now (the soft RLIMIT_FSIZE, set with prlimit(2) as
// `prlimit --fsize` does): growing the store then fails with EFBIG (Go
// ignores SIGXFSZ). Changing the soft limit under the hard one needs no
// privilege. The process's log file is above the limit too, so its log
// stops while the limit holds.
func rlimitDisk(tr **tributary) *fullDisk {
	set := func(t *testing.T, soft func(cur uint64) uint64) {
		var old syscall.Rlimit
		_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr((*tr).PID()), syscall.RLIMIT_FSIZE,
			0, uintptr(unsafe.Pointer(&old)), 0, 0)
		require.Zero(t, errno, "prlimit: read RLIMIT_FSIZE of tributary")
		lim := syscall.Rlimit{Cur: min(soft(old.Cur), old.Max), Max: old.Max}
		_, _, errno = syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr((*tr).PID()), syscall.RLIMIT_FSIZE,
			uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
		require.Zero(t, errno, "prlimit: set RLIMIT_FSIZE of tributary")
	}
	return &fullDisk{
		fill: func(t *testing.T) {
			st, err := os.Stat((*tr).StorePath)
			require.NoError(t, err)
			set(t, func(uint64) uint64 { return uint64(st.Size()) })
		},
		free:    func(t *testing.T) { set(t, func(uint64) uint64 { return ^uint64(0) }) },
		errText: "file too large",
	}
}

// TestFaultStoreDiskFull makes the standalone store's file system full
// under a running Tributary. CreateIngress and UpdateIngress then answer
// an error naming the cause (no crash, no silent success: every call that
// answered success is in the store afterwards, every call that answered
// an error is not), reads go on working, and a kill -9 and start while the
// disk is still full comes up with the store intact; once space is free
// again writes work again, and after a restart the store opens intact
// with every ingress created before. Two ways to fill it: a small
// tmpfs filled to ENOSPC (needs the right to mount: root in CI), and a
// file-size limit on the process (EFBIG), which needs no privilege.
func TestFaultStoreDiskFull(t *testing.T) {
	for _, kind := range []string{"tmpfs", "fsize-rlimit"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			var tr *tributary
			var disk *fullDisk
			if kind == "tmpfs" {
				var ok bool
				if disk, ok = tmpfsDisk(t, dir); !ok {
					if os.Getenv("TRIBUTARY_E2E_REQUIRED") != "" {
						t.Fatal("cannot mount a tmpfs although TRIBUTARY_E2E_REQUIRED is set (the suite runs as root)")
					}
					t.Skip("cannot mount a tmpfs (not root): the fsize-rlimit case covers a failing store")
				}
			} else {
				disk = rlimitDisk(&tr)
			}
			testStoreFull(t, disk, filepath.Join(dir, "ingress.db"), &tr)
		})
	}
}

func testStoreFull(t *testing.T, disk *fullDisk, storePath string, trp **tributary) {
	tr := startTributary(t, tributaryOpts{StorePath: storePath})
	*trp = tr
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Records made before the disk fills.
	want := map[string]string{} // ingress ID → participant name
	for i := range 3 {
		info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "full", ParticipantIdentity: fmt.Sprint("early-", i),
		})
		require.NoError(t, err)
		want[info.IngressId] = ""
	}
	first := func() string {
		for id := range want {
			return id
		}
		return ""
	}()

	disk.fill(t)
	// Each record carries 16 KB of metadata, so the store must grow within
	// a few calls; until then bbolt may still write into pages the file
	// already has, which is a real success.
	meta := strings.Repeat("m", 16<<10)
	var createErr error
	i := 0
	for ; i < 32 && createErr == nil; i++ {
		var info *livekit.IngressInfo
		info, createErr = c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "full", ParticipantIdentity: fmt.Sprint("late-", i),
			ParticipantMetadata: meta,
		})
		if createErr == nil {
			want[info.IngressId] = ""
		}
	}
	t.Logf("CreateIngress on the full disk: %d succeeded (into pages the store had), then: %v", i-1, createErr)
	requireStoreError(t, createErr, disk.errText)
	_, err := c.UpdateIngress(ctx, &livekit.UpdateIngressRequest{IngressId: first, ParticipantName: "renamed", ParticipantMetadata: meta})
	t.Logf("UpdateIngress on the full disk: %v", err)
	requireStoreError(t, err, disk.errText)

	// Still serving: reads work and the process is alive.
	list, err := c.ListIngress(ctx, &livekit.ListIngressRequest{})
	require.NoError(t, err)
	require.Len(t, list.Items, len(want), "what the API reported created, no more")
	code, body := clusterGet(ctx, tr.HealthURL+"/")
	require.Equal(t, http.StatusOK, code, body)

	if disk.persists {
		// kill -9 and a start while the disk is still full: the store
		// opens with what was acknowledged, and the server comes up.
		tr.kill9(t)
		tr = startTributary(t, tributaryOpts{StorePath: storePath})
		*trp = tr
		c = lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
		list, err = c.ListIngress(ctx, &livekit.ListIngressRequest{})
		require.NoError(t, err)
		require.Len(t, list.Items, len(want))
		_, err = c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "full", ParticipantIdentity: "still-full", ParticipantMetadata: meta,
		})
		requireStoreError(t, err, disk.errText)
	}

	// Space again: the server takes writes again.
	disk.free(t)
	upd, err := c.UpdateIngress(ctx, &livekit.UpdateIngressRequest{IngressId: first, ParticipantName: "renamed"})
	require.NoError(t, err)
	require.Equal(t, "renamed", upd.ParticipantName)
	want[first] = "renamed"
	info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "full", ParticipantIdentity: "after-free",
	})
	require.NoError(t, err)
	want[info.IngressId] = ""

	// A restart opens the store intact.
	tr.stop(t)
	tr = startTributary(t, tributaryOpts{StorePath: storePath})
	*trp = tr
	c = lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	list, err = c.ListIngress(ctx, &livekit.ListIngressRequest{RoomName: "full"})
	require.NoError(t, err)
	got := map[string]string{}
	for _, it := range list.Items {
		got[it.IngressId] = it.ParticipantName
		require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, it.State.GetStatus())
	}
	require.Equal(t, want, got)
	require.NotContains(t, logOf(t, tr), "panic")
}

// requireStoreError checks that an API call failed because the store could
// not write: a Twirp internal error naming the system error.
func requireStoreError(t *testing.T, err error, errText string) {
	t.Helper()
	require.Error(t, err, "a write on a full disk must not report success")
	var te twirp.Error
	require.True(t, errors.As(err, &te), "not a twirp error: %v", err)
	require.Equal(t, twirp.Internal, te.Code(), err.Error())
	require.Contains(t, te.Msg(), errText)
}
