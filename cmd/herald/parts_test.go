package main

import (
	"errors"
	"testing"
)

func TestPartsReportOneThatEndsEarly(t *testing.T) {
	ended := make(chan error, 1)
	p := newParts(ended)
	block := make(chan struct{})
	p.Go("sender", func() error { <-block; return nil })
	boom := errors.New("boom")
	p.Go("poller", func() error { return boom })
	err := <-ended
	if !errors.Is(err, boom) || err.Error() != "herald: the poller stopped while herald was running: boom" {
		t.Errorf("report = %v", err)
	}
	p.Go("watcher for main", func() error { return nil })
	if err := <-ended; err.Error() != "herald: the watcher for main stopped while herald was running: it returned" {
		t.Errorf("a part returning nil: %v", err)
	}
	p.Stop()
	close(block)
	p.Wait()
}

func TestPartsQuietAfterStop(t *testing.T) {
	ended := make(chan error, 1)
	p := newParts(ended)
	block := make(chan struct{})
	p.Go("intake", func() error { <-block; return errors.New("context canceled") })
	p.Stop()
	close(block)
	p.Wait()
	select {
	case err := <-ended:
		t.Errorf("a part ending after Stop was reported: %v", err)
	default:
	}
}
