package buildbottest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a twistd process (master or worker) in the foreground of its own process group.
// Pdeathsig kills it if the test binary dies, so no Buildbot outlives the tests.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(dir string, name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = pythonEnv()
	out, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// stop asks twistd to shut down and kills it if it has not within 15 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children (a running build step's sleep) share the group; make sure none is left.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// StartMaster starts the master (again, after StopMaster: same directory, ports and
// database) and waits until its web API answers.
func (m *Master) StartMaster() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.master != nil {
		m.t.Fatalf("buildbottest: master already running")
	}
	p, err := startProc(m.Dir(), "buildbot", "start", "--nodaemon", ".")
	if err != nil {
		m.t.Fatalf("buildbottest: start master: %v", err)
	}
	m.master = p
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := m.client.Get(m.URL() + "api/v2")
		if err == nil {
			resp.Body.Close()
			return
		}
		if p.exited() || time.Now().After(deadline) {
			m.t.Fatalf("buildbottest: master did not start: %v\n%s", err, m.logTail("master"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StopMaster stops the master and waits until it has exited.
func (m *Master) StopMaster() {
	m.mu.Lock()
	p := m.master
	m.master = nil
	m.mu.Unlock()
	p.stop()
}

// StartWorker starts a worker (again) and waits until the master sees it connected.
func (m *Master) StartWorker(name string) {
	m.t.Helper()
	m.mu.Lock()
	if m.workers[name] != nil {
		m.mu.Unlock()
		m.t.Fatalf("buildbottest: worker %s already running", name)
	}
	p, err := startProc(filepath.Join(m.dir, name), "buildbot-worker", "start", "--nodaemon", ".")
	if err != nil {
		m.mu.Unlock()
		m.t.Fatalf("buildbottest: start worker %s: %v", name, err)
	}
	m.workers[name] = p
	m.mu.Unlock()
	err = waitFor(90*time.Second, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("worker exited")
		}
		return m.workerConnected(name)
	})
	if err != nil {
		m.t.Fatalf("buildbottest: worker %s did not connect: %v\n%s", name, err, m.logTail(name))
	}
}

// StopWorker stops a worker process; the master notices the lost connection at once and
// reports it missing after Options.MissingTimeout.
func (m *Master) StopWorker(name string) {
	m.mu.Lock()
	p := m.workers[name]
	delete(m.workers, name)
	m.mu.Unlock()
	p.stop()
}

func (m *Master) cleanup() {
	m.mu.Lock()
	ws := m.workers
	m.workers = map[string]*proc{}
	m.mu.Unlock()
	for _, p := range ws {
		p.stop()
	}
	if m.t.Failed() {
		m.t.Logf("buildbottest: master log tail:\n%s", m.logTail("master"))
	}
	m.StopMaster()
}

// logTail returns the end of a twistd.log (of "master" or a worker), for failure messages.
func (m *Master) logTail(name string) string {
	b, err := os.ReadFile(filepath.Join(m.dir, name, "twistd.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	s := string(b)
	if len(s) > 6000 {
		s = s[len(s)-6000:]
	}
	return strings.TrimSpace(s)
}

func waitFor(d time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%w: %v", errTimeout, last)
			}
			return errTimeout
		}
		time.Sleep(150 * time.Millisecond)
	}
}
