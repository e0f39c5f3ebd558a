package githubtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// receiver is a webhook endpoint that records what arrives and answers 200 (or the
// status a test sets).
type receiver struct {
	mu     sync.Mutex
	got    []received
	status int
}

type received struct {
	header http.Header
	body   []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
	status := rc.status
	rc.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "answer %d", len(rc.got))
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func newHookFixture(t *testing.T) (*fixture, *receiver) {
	rc := &receiver{}
	hs := httptest.NewServer(rc)
	t.Cleanup(hs.Close)
	return newFixture(t, Options{WebhookURL: hs.URL + "/ci/gh/webhook", WebhookSecret: "s3cret"}), rc
}

func waitDone(t *testing.T, f *fixture, n int) []Delivery {
	t.Helper()
	var ds []Delivery
	err := f.srv.WaitFor(ctxT(t), func() bool {
		ds = f.srv.Deliveries()
		if len(ds) < n {
			return false
		}
		for _, d := range ds {
			if !d.Done {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("waiting for %d deliveries, have %d: %v", n, len(ds), err)
	}
	return ds
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestWebhookDeliveries(t *testing.T) {
	f, rc := newHookFixture(t)
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	f.srv.StartRun(id, "build", "Test")
	f.srv.CompleteRun(id, "failure", "build", "Test")
	ds := waitDone(t, f, 6)
	var seq []string
	for _, d := range ds {
		seq = append(seq, d.Event+"/"+d.Action)
	}
	want := "[workflow_run/requested workflow_run/in_progress workflow_job/queued workflow_job/in_progress workflow_job/completed workflow_run/completed]"
	if fmt.Sprint(seq) != want {
		t.Fatalf("deliveries %v\nwant %s", seq, want)
	}
	got := rc.all()
	if len(got) != 6 {
		t.Fatalf("receiver got %d", len(got))
	}
	for i, r := range got {
		d := ds[i]
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(r.body)
		mac1 := hmac.New(sha1.New, []byte("s3cret"))
		mac1.Write(r.body)
		h := r.header
		checks := map[string]string{
			"X-GitHub-Event":                         d.Event,
			"X-GitHub-Delivery":                      d.ID,
			"X-GitHub-Hook-ID":                       strconv.Itoa(HookID),
			"X-GitHub-Hook-Installation-Target-Type": "repository",
			"X-Hub-Signature-256":                    "sha256=" + hex.EncodeToString(mac.Sum(nil)),
			"X-Hub-Signature":                        "sha1=" + hex.EncodeToString(mac1.Sum(nil)),
			"Content-Type":                           "application/json",
		}
		for k, v := range checks {
			if h.Get(k) != v {
				t.Errorf("delivery %d: %s = %q, want %q", i, k, h.Get(k), v)
			}
		}
		if !guidRE.MatchString(h.Get("X-GitHub-Delivery")) || h.Get("X-GitHub-Hook-Installation-Target-ID") == "" ||
			!regexp.MustCompile(`^GitHub-Hookshot/`).MatchString(h.Get("User-Agent")) {
			t.Errorf("delivery %d headers %v", i, h)
		}
		if d.Status != http.StatusOK || d.Answer != fmt.Sprintf("answer %d", i+1) {
			t.Errorf("delivery %d recorded %d %q", i, d.Status, d.Answer)
		}
	}
	var last struct {
		Action      string  `json:"action"`
		WorkflowRun runView `json:"workflow_run"`
		Workflow    struct {
			ID   int64  `json:"id"`
			Path string `json:"path"`
		} `json:"workflow"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
		Sender struct {
			Login string `json:"login"`
		} `json:"sender"`
	}
	if err := json.Unmarshal(got[5].body, &last); err != nil {
		t.Fatal(err)
	}
	if last.Action != "completed" || last.WorkflowRun.ID != id || last.WorkflowRun.Conclusion == nil || *last.WorkflowRun.Conclusion != "failure" ||
		last.Workflow.ID != f.ci || last.Repository.FullName != "acme/widgets" || last.Sender.Login != "octocat" {
		t.Errorf("completed payload %+v", last)
	}
	var job struct {
		WorkflowJob jobView `json:"workflow_job"`
	}
	if err := json.Unmarshal(got[3].body, &job); err != nil || job.WorkflowJob.RunID != id || job.WorkflowJob.Status != "in_progress" {
		t.Errorf("workflow_job payload %v %+v", err, job)
	}
}

func TestWebhookDropRedeliverAndRefusal(t *testing.T) {
	f, rc := newHookFixture(t)
	f.srv.DropWebhooks(1)
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	rc.mu.Lock()
	rc.status = http.StatusUnauthorized
	rc.mu.Unlock()
	f.srv.CompleteRun(id, "success", "", "") // job queued, in_progress, completed, then the run
	ds := waitDone(t, f, 5)
	if !ds[0].Dropped || ds[0].Status != 0 {
		t.Errorf("dropped delivery %+v", ds[0])
	}
	if len(rc.all()) != 4 {
		t.Fatalf("receiver got %d, want 4 (one dropped)", len(rc.all()))
	}
	// GitHub does not retry: a refused delivery stays refused until redelivered.
	if ds[4].Status != http.StatusUnauthorized || ds[4].Dropped {
		t.Errorf("refused delivery %+v", ds[4])
	}
	rc.mu.Lock()
	rc.status = 0
	rc.mu.Unlock()
	status, answer, err := f.srv.Redeliver(ds[0].ID)
	if err != nil || status != http.StatusOK || answer != "answer 5" {
		t.Fatalf("redeliver: %d %q %v", status, answer, err)
	}
	got := rc.all()
	if got[4].header.Get("X-GitHub-Delivery") != ds[0].ID || string(got[4].body) != string(ds[0].Body) {
		t.Errorf("redelivery differs from the original")
	}
	if all := f.srv.Deliveries(); len(all) != 6 || !all[5].Redelive || all[5].Status != http.StatusOK {
		t.Errorf("deliveries after redeliver: %d, last %+v", len(all), all[len(all)-1])
	}
	if _, _, err := f.srv.Redeliver("no-such-id"); err == nil {
		t.Error("redeliver of an unknown id succeeded")
	}

	status, _, err = f.srv.SendWebhook("ping", f.srv.PingBody())
	if err != nil || status != http.StatusOK {
		t.Fatalf("ping: %d %v", status, err)
	}
	got = rc.all()
	var ping struct {
		Zen    string `json:"zen"`
		HookID int    `json:"hook_id"`
	}
	if json.Unmarshal(got[len(got)-1].body, &ping) != nil || ping.HookID != HookID || ping.Zen == "" ||
		got[len(got)-1].header.Get("X-GitHub-Event") != "ping" {
		t.Errorf("ping %s", got[len(got)-1].body)
	}
}

func TestWebhooksWithoutURLAreRecorded(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	ds := f.srv.Deliveries()
	if len(ds) != 1 || !ds[0].Done || ds[0].Status != 0 || ds[0].Event != "workflow_run" || ds[0].Action != "requested" {
		t.Errorf("deliveries %+v", ds)
	}
}

func TestOnDeliverySeesEveryDeliveryInOrder(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	rc := &receiver{}
	hs := httptest.NewServer(rc)
	t.Cleanup(hs.Close)
	f := newFixture(t, Options{WebhookURL: hs.URL, WebhookSecret: "s", OnDelivery: func(d Delivery) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s/%s dropped=%v status=%d", d.Event, d.Action, d.Dropped, d.Status))
	}})
	f.srv.DropWebhooks(1)
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	f.srv.CompleteRun(id, "cancelled", "", "")
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	if err := f.srv.WaitFor(ctxT(t), func() bool { return count() == 2 }); err != nil {
		t.Fatalf("OnDelivery calls %d: %v", count(), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[workflow_run/requested dropped=true status=0 workflow_run/completed dropped=false status=200]" {
		t.Errorf("OnDelivery saw %v", seen)
	}
}

// The server keeps the last MaxDeliveries deliveries only, so a demo can play for ever.
func TestDeliveriesAreBounded(t *testing.T) {
	f := newFixture(t, Options{})
	first := len(f.srv.Deliveries())
	for range MaxDeliveries + 5 - first {
		f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	}
	ds := f.srv.Deliveries()
	if len(ds) != MaxDeliveries {
		t.Fatalf("%d deliveries kept, want %d", len(ds), MaxDeliveries)
	}
	var last struct {
		WorkflowRun struct {
			RunNumber int `json:"run_number"`
		} `json:"workflow_run"`
	}
	if err := json.Unmarshal(ds[len(ds)-1].Body, &last); err != nil || last.WorkflowRun.RunNumber != MaxDeliveries+5-first {
		t.Errorf("the newest delivery is run %d (%v), want %d", last.WorkflowRun.RunNumber, err, MaxDeliveries+5-first)
	}
}
