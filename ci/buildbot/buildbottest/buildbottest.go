// Package buildbottest runs a real Buildbot master and its workers (Debian's packages) for
// tests, so the Buildbot provider is tested against what it will talk to in production rather
// than against recordings. A master starts in about two seconds; each test gets its own.
package buildbottest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Outcome is what the toggle builder's next builds end with.
type Outcome string

const (
	Success  Outcome = "success"
	Failure  Outcome = "failure"  // the "compile" step fails: result failure
	Warnings Outcome = "warnings" // the "lint" step fails with warnOnFailure: result warnings
)

// Builder names the master offers. All are served by every worker and forced by the force
// scheduler "force".
const (
	BuilderPass   = "pass"      // runs true
	BuilderFail   = "fail"      // runs false
	BuilderToggle = "toggle"    // follows SetOutcome
	BuilderSlow   = "slow"      // sleeps Options.SlowSeconds, for stop tests
	BuilderDocs   = "docs-site" // runs true; a second name for scope tests
	Scheduler     = "force"
)

// Options shape the master. The zero value is one worker, no auth, a 5 s missing timeout.
type Options struct {
	Workers        int           // how many workers (w1, w2, ...); default 1
	MissingTimeout time.Duration // after a worker disconnects, how long until it is "missing"; default 5 s
	SlowSeconds    int           // how long the slow builder sleeps; default 60
	Username       string        // with Password, protects the web API with basic auth
	Password       string
	// Burst adds builders burst-01 … burst-NN (BurstBuilder), whose builds all follow one
	// outcome, SetOutcome(BurstOutcome, …): one change breaking many builders at once.
	Burst int
}

// BurstOutcome is the outcome the burst builders follow (Options.Burst).
const BurstOutcome = "burst"

// BurstBuilder is the name of burst builder i, from 1.
func BurstBuilder(i int) string { return fmt.Sprintf("burst-%02d", i) }

// Master is a running Buildbot master with its workers; Cleanup stops them.
type Master struct {
	t       testing.TB
	dir     string
	opts    Options
	wwwPort int
	pbPort  int
	client  *http.Client

	mu      sync.Mutex
	master  *proc
	workers map[string]*proc
}

// Build is a build as the harness sees it: enough to wait on and assert.
type Build struct {
	ID          int              `json:"buildid"`
	Number      int              `json:"number"`
	BuilderID   int              `json:"builderid"`
	RequestID   int              `json:"buildrequestid"`
	Complete    bool             `json:"complete"`
	Results     *int             `json:"results"`
	StateString string           `json:"state_string"`
	StartedAt   int64            `json:"started_at"`
	CompleteAt  *int64           `json:"complete_at"`
	Properties  map[string][]any `json:"properties"`
}

// Property returns the value of a build property as a string ("" when absent).
func (b Build) Property(name string) string {
	v := b.Properties[name]
	if len(v) == 0 || v[0] == nil {
		return ""
	}
	return fmt.Sprint(v[0])
}

// Start creates and starts a master and its workers in a temporary directory, and waits until
// every worker is connected. It fails the test if Buildbot is not installed.
func Start(t testing.TB, opts Options) *Master {
	t.Helper()
	for _, bin := range []string{"buildbot", "buildbot-worker"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("buildbottest: %s is not installed: run `make test` (it installs Buildbot), or .ci/ensure-buildbot.sh", bin)
		}
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.MissingTimeout <= 0 {
		opts.MissingTimeout = 5 * time.Second
	}
	if opts.SlowSeconds <= 0 {
		opts.SlowSeconds = 60
	}
	jar, _ := cookiejar.New(nil)
	m := &Master{
		t:       t,
		dir:     t.TempDir(),
		opts:    opts,
		wwwPort: freePort(t),
		pbPort:  freePort(t),
		client:  &http.Client{Jar: jar, Timeout: 30 * time.Second},
		workers: map[string]*proc{},
	}
	t.Cleanup(m.cleanup)
	m.createMaster()
	for _, w := range m.WorkerNames() {
		m.createWorker(w)
	}
	m.StartMaster()
	for _, w := range m.WorkerNames() {
		m.StartWorker(w)
	}
	return m
}

// URL is the master's web root with a trailing slash, e.g. http://127.0.0.1:PORT/.
func (m *Master) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/", m.wwwPort) }

// Dir is the master's base directory (twistd.log is there).
func (m *Master) Dir() string { return filepath.Join(m.dir, "master") }

// WorkerNames lists the workers' names.
func (m *Master) WorkerNames() []string {
	names := make([]string, m.opts.Workers)
	for i := range names {
		names[i] = fmt.Sprintf("w%d", i+1)
	}
	return names
}

// SetOutcome decides how the next builds of builder (only "toggle" reads it) end. It ends a
// Hold: a build already held stays held until it is stopped.
func (m *Master) SetOutcome(builder string, o Outcome) {
	m.t.Helper()
	path := m.outcomePath(builder)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.t.Fatalf("buildbottest: set outcome: %v", err)
	}
	if err := os.WriteFile(path, []byte(string(o)+"\n"), 0o644); err != nil {
		m.t.Fatalf("buildbottest: set outcome: %v", err)
	}
}

// Hold makes the next builds of builder (only "toggle") wait in their first step until they
// are stopped (see Stop): the step reads the outcome from a named pipe nobody writes to. It is
// how a test gets a build to cancel on a builder whose other builds succeed or fail; SetOutcome
// ends it.
func (m *Master) Hold(builder string) {
	m.t.Helper()
	path := m.outcomePath(builder)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.t.Fatalf("buildbottest: hold: %v", err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		m.t.Fatalf("buildbottest: hold: %v", err)
	}
}

func (m *Master) outcomePath(builder string) string {
	m.t.Helper()
	dir := filepath.Join(m.Dir(), "outcomes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		m.t.Fatalf("buildbottest: %v", err)
	}
	return filepath.Join(dir, builder)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("buildbottest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type settings struct {
	WWWPort        int              `json:"www_port"`
	PBPort         int              `json:"pb_port"`
	Workers        []workerSettings `json:"workers"`
	MissingTimeout int              `json:"missing_timeout"`
	SlowSeconds    int              `json:"slow_seconds"`
	Auth           *authSettings    `json:"auth"`
	Burst          int              `json:"burst"`
}

type workerSettings struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

type authSettings struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (m *Master) createMaster() {
	m.t.Helper()
	run(m.t, m.dir, "buildbot", "create-master", "-r", "master")
	cfg, err := os.ReadFile(filepath.Join(repoRoot(), "testdata", "buildbot", "master.cfg"))
	if err != nil {
		m.t.Fatalf("buildbottest: read master.cfg template: %v", err)
	}
	s := settings{
		WWWPort:        m.wwwPort,
		PBPort:         m.pbPort,
		MissingTimeout: max(1, int(m.opts.MissingTimeout.Round(time.Second)/time.Second)),
		SlowSeconds:    m.opts.SlowSeconds,
		Burst:          m.opts.Burst,
	}
	for _, w := range m.WorkerNames() {
		s.Workers = append(s.Workers, workerSettings{Name: w, Password: "pw-" + w})
	}
	if m.opts.Username != "" {
		s.Auth = &authSettings{Username: m.opts.Username, Password: m.opts.Password}
	}
	js, _ := json.MarshalIndent(s, "", "  ")
	writeFile(m.t, filepath.Join(m.Dir(), "master.cfg"), cfg)
	writeFile(m.t, filepath.Join(m.Dir(), "herald.json"), js)
}

func (m *Master) createWorker(name string) {
	m.t.Helper()
	run(m.t, m.dir, "buildbot-worker", "create-worker", "-r", "--umask=0o22", name,
		fmt.Sprintf("127.0.0.1:%d", m.pbPort), name, "pw-"+name)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatalf("buildbottest: %v", err)
	}
}

func run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = pythonEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buildbottest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// pythonEnv puts the empty www plugin on the path and keeps a developer's own Python setup
// (virtualenvs, pyenv) from shadowing Debian's.
func pythonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHONPATH=") || strings.HasPrefix(kv, "PYTHONHOME=") ||
			strings.HasPrefix(kv, "VIRTUAL_ENV=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONPATH="+filepath.Join(repoRoot(), "testdata", "buildbot", "wwwplugin"),
		"PYTHONDONTWRITEBYTECODE=1")
}

var errTimeout = errors.New("timed out")
