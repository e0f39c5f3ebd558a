package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// parts runs a group of herald's long-running goroutines and reports one that ends on its
// own. Each is meant to run until herald shuts down: one that returns earlier leaves a
// herald that answers /healthz but takes no updates, sends nothing or hears no CI. herald
// then stops and exits non-zero, so its supervisor (systemd, docker) starts it again.
type parts struct {
	wg       sync.WaitGroup
	ended    chan<- error
	stopping atomic.Bool
}

// newParts makes a group that reports to ended, which several groups may share. ended
// needs room for one report; later ones are dropped (herald stops at the first).
func newParts(ended chan<- error) *parts { return &parts{ended: ended} }

// errReturned is the report of a part that returned nil while herald was running.
var errReturned = errors.New("it returned")

// Go runs fn as the part called name.
func (p *parts) Go(name string, fn func() error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := fn()
		if p.stopping.Load() {
			return
		}
		if err == nil {
			err = errReturned
		}
		select {
		case p.ended <- fmt.Errorf("herald: the %s stopped while herald was running: %w", name, err):
		default:
		}
	}()
}

// Stop says the group is being shut down: from now on a part that ends is expected. Call
// it before cancelling the parts' context.
func (p *parts) Stop() { p.stopping.Store(true) }

// Wait waits for every part to end.
func (p *parts) Wait() { p.wg.Wait() }
