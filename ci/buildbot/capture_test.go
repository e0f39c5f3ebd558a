package buildbot_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// TestCaptureFixtures refreshes testdata/ from a real master; run it with
// HERALD_CAPTURE_FIXTURES=1 after a Buildbot upgrade and review the diff.
func TestCaptureFixtures(t *testing.T) {
	if os.Getenv("HERALD_CAPTURE_FIXTURES") == "" {
		t.Skip("set HERALD_CAPTURE_FIXTURES=1 to refresh testdata from a real master")
	}
	m := buildbottest.Start(t, buildbottest.Options{Workers: 2, MissingTimeout: time.Second})
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, strings.Replace(m.URL(), "http", "ws", 1)+"ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	for _, msg := range []string{`{"cmd":"startConsuming","path":"builds/*/*","_id":1}`, `{"cmd":"startConsuming","path":"workers/*/*","_id":2}`} {
		if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	frames := map[string][]byte{}
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var key string
			if i := strings.Index(string(data), `"k":"`); i >= 0 {
				key = string(data[i+5:])
				key = key[:strings.Index(key, `"`)]
				parts := strings.Split(key, "/")
				key = parts[0] + "_" + parts[len(parts)-1]
			} else {
				key = "ack"
			}
			mu.Lock()
			frames[key] = data
			mu.Unlock()
		}
	}()
	m.SetOutcome("toggle", buildbottest.Failure)
	m.Force("toggle", map[string]any{"branch": "feature", "greeting": "hi", "target": "b", "clean": true})
	m.WaitBuild("toggle", 1)
	m.StopWorker("w2")
	time.Sleep(3 * time.Second)
	m.StartWorker("w2")
	time.Sleep(time.Second)

	get := func(path string) []byte {
		resp, err := http.Get(m.URL() + "api/v2/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	files := map[string][]byte{
		"builders.json":        get("builders"),
		"builds.json":          get("builds?property=*"),
		"steps.json":           get("builds/1/steps"),
		"workers.json":         get("workers"),
		"forceschedulers.json": get("forceschedulers"),
	}
	mu.Lock()
	for k, v := range frames {
		files["ws_"+k+".json"] = v
	}
	mu.Unlock()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
