// Command tributary-dev is the helper of scripts/run.sh: it waits for a
// local Tributary, creates an ingress through its API (as any LiveKit
// IngressClient would), and prints what a streamer needs to publish to it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func main() {
	api := flag.String("api", "http://127.0.0.1:7890", "Tributary API URL")
	health := flag.String("health", "http://127.0.0.1:7891", "Tributary health URL")
	key := flag.String("api-key", "devkey", "API key")
	secret := flag.String("api-secret", "secret", "API secret")
	room := flag.String("room", "demo", "room to publish into")
	input := flag.String("input", "rtmp", "rtmp or whip")
	transcode := flag.Bool("transcode", true, "enable_transcoding of the ingress (false: forward the video unchanged)")
	flag.Parse()

	if err := waitHealthy(*health, 30*time.Second); err != nil {
		fail(err)
	}
	req := &livekit.CreateIngressRequest{
		Name:                "demo-" + *input,
		RoomName:            *room,
		ParticipantIdentity: *input + "-publisher",
		ParticipantName:     strings.ToUpper(*input) + " publisher",
	}
	if !*transcode {
		req.EnableTranscoding = &[]bool{false}[0]
	}
	switch *input {
	case "rtmp":
		req.InputType = livekit.IngressInput_RTMP_INPUT
	case "whip":
		req.InputType = livekit.IngressInput_WHIP_INPUT
	default:
		fail(fmt.Errorf("-input must be rtmp or whip, not %q", *input))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := lksdk.NewIngressClient(*api, *key, *secret).CreateIngress(ctx, req)
	if err != nil {
		fail(fmt.Errorf("create ingress: %w", err))
	}
	fmt.Printf("\nIngress created: %s (%s) in room %q\n", info.IngressId, req.Name, info.RoomName)
	fmt.Printf("  URL:        %s\n", info.Url)
	fmt.Printf("  Stream key: %s\n", info.StreamKey)
	switch req.InputType {
	case livekit.IngressInput_RTMP_INPUT:
		fmt.Printf("\nPublish a test stream with ffmpeg:\n  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 \\\n"+
			"    -c:v libx264 -profile:v baseline -bf 0 -g 60 -c:a aac -f flv %s/%s\n", info.Url, info.StreamKey)
	case livekit.IngressInput_WHIP_INPUT:
		fmt.Printf("\nPublish with a WHIP client to:\n  %s/%s\n", info.Url, info.StreamKey)
	}
	fmt.Printf("\nWatch it (and manage ingresses) in the web console: %s/ — log in with %s / %s;\n"+
		"select the ingress to see its live preview.\n", *api, *key, *secret)
	fmt.Printf("\nManage ingresses with the lk CLI:\n  lk --url %s --api-key %s --api-secret %s ingress list\n", *api, *key, *secret)
}

func waitHealthy(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url + "/availability")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tributary at %s is not healthy after %v (last error: %v)", url, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tributary-dev:", err)
	os.Exit(1)
}
