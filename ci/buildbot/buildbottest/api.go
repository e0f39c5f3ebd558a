package buildbottest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// get fetches api/v2/<path> into out, logging in first when the master has auth.
func (m *Master) get(path string, out any) error {
	return m.do(http.MethodGet, path, nil, out)
}

func (m *Master) do(method, path string, body []byte, out any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, m.URL()+"api/v2/"+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := m.client.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized) &&
			m.opts.Username != "" && attempt == 0 {
			if err := m.login(); err != nil {
				return err
			}
			continue
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
		}
		return json.Unmarshal(b, out)
	}
}

func (m *Master) login() error {
	req, _ := http.NewRequest(http.MethodGet, m.URL()+"auth/login", nil)
	req.SetBasicAuth(m.opts.Username, m.opts.Password)
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 && resp.StatusCode/100 != 3 {
		return fmt.Errorf("login: %s", resp.Status)
	}
	return nil
}

func (m *Master) workerConnected(name string) (bool, error) {
	var r struct {
		Workers []struct {
			ConnectedTo []any `json:"connected_to"`
		} `json:"workers"`
	}
	if err := m.get("workers/"+url.PathEscape(name), &r); err != nil {
		return false, err
	}
	return len(r.Workers) == 1 && len(r.Workers[0].ConnectedTo) > 0, nil
}

// BuilderID returns the id of a builder by name.
func (m *Master) BuilderID(name string) int {
	m.t.Helper()
	var r struct {
		Builders []struct {
			ID int `json:"builderid"`
		} `json:"builders"`
	}
	if err := m.get("builders?name="+url.QueryEscape(name), &r); err != nil || len(r.Builders) != 1 {
		m.t.Fatalf("buildbottest: builder %q: %v (%d found)", name, err, len(r.Builders))
	}
	return r.Builders[0].ID
}

// Force starts a build of builder through the force scheduler's JSON-RPC, with params as the
// form fields (branch, reason, greeting, target, clean), and returns the build request id.
func (m *Master) Force(builder string, params map[string]any) int {
	m.t.Helper()
	p := map[string]any{"builderid": m.BuilderID(builder)}
	for k, v := range params {
		p[k] = v
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "force", "id": 1, "params": p})
	var r struct {
		Result []json.RawMessage `json:"result"`
		Error  any               `json:"error"`
	}
	if err := m.do(http.MethodPost, "forceschedulers/"+Scheduler, body, &r); err != nil || len(r.Result) != 2 {
		m.t.Fatalf("buildbottest: force %s: %v %v", builder, err, r.Error)
	}
	var brids map[string]int
	if err := json.Unmarshal(r.Result[1], &brids); err != nil || len(brids) != 1 {
		m.t.Fatalf("buildbottest: force %s: result %s: %v", builder, r.Result[1], err)
	}
	for _, id := range brids {
		return id
	}
	panic("unreachable")
}

// Stop cancels a running build by its build id through the JSON-RPC "stop" control of the
// REST API, as Buildbot's web UI does; the build ends with results cancelled.
func (m *Master) Stop(buildID int, reason string) {
	m.t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "stop", "id": 1,
		"params": map[string]any{"reason": reason, "results": 6}})
	var r struct {
		Error any `json:"error"`
	}
	if err := m.do(http.MethodPost, fmt.Sprintf("builds/%d", buildID), body, &r); err != nil || r.Error != nil {
		m.t.Fatalf("buildbottest: stop build %d: %v %v", buildID, err, r.Error)
	}
}

// WaitBuild waits until build number of builder is complete and returns it with its
// properties.
func (m *Master) WaitBuild(builder string, number int) Build {
	m.t.Helper()
	return m.waitBuild(builder, number, true)
}

// WaitStarted waits until build number of builder exists (running or done).
func (m *Master) WaitStarted(builder string, number int) Build {
	m.t.Helper()
	return m.waitBuild(builder, number, false)
}

func (m *Master) waitBuild(builder string, number int, complete bool) Build {
	m.t.Helper()
	id := m.BuilderID(builder)
	var b Build
	err := waitFor(3*time.Minute, func() (bool, error) {
		var r struct {
			Builds []Build `json:"builds"`
		}
		if err := m.get(fmt.Sprintf("builders/%d/builds/%d?property=*", id, number), &r); err != nil {
			return false, err
		}
		if len(r.Builds) != 1 {
			return false, nil
		}
		b = r.Builds[0]
		return b.Complete || !complete, nil
	})
	if err != nil {
		m.t.Fatalf("buildbottest: build %s #%d: %v", builder, number, err)
	}
	return b
}

// Builds lists every build the master has, oldest first.
func (m *Master) Builds() []Build {
	m.t.Helper()
	var r struct {
		Builds []Build `json:"builds"`
	}
	if err := m.get("builds?order=buildid&property=*", &r); err != nil {
		m.t.Fatalf("buildbottest: builds: %v", err)
	}
	return r.Builds
}
