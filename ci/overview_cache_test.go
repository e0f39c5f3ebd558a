package ci

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// One fetch serves every caller for TTL; a CI that did not answer is remembered for
// FailureTTL, an answer that was an error is not.
func TestOverviewCache(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := &OverviewCache{TTL: 10 * time.Second, FailureTTL: 5 * time.Second, Now: func() time.Time { return now }}
	fetches := 0
	var answer error
	fetch := func(context.Context) (Overview, error) {
		fetches++
		if answer != nil {
			return Overview{}, answer
		}
		return Overview{At: now}, nil
	}
	ctx := context.Background()
	get := func() error { _, err := c.Get(ctx, fetch); return err }

	for range 3 {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	if fetches != 1 {
		t.Fatalf("%d fetches for three callers within the TTL; want 1", fetches)
	}
	now = now.Add(11 * time.Second)
	answer = fmt.Errorf("down: %w", context.DeadlineExceeded)
	if err := get(); !errors.Is(err, context.DeadlineExceeded) || fetches != 2 {
		t.Fatalf("after the TTL: %v, %d fetches", err, fetches)
	}
	if err := get(); !errors.Is(err, context.DeadlineExceeded) || fetches != 2 {
		t.Fatalf("a CI that did not answer is not remembered: %v, %d fetches", err, fetches)
	}
	now = now.Add(6 * time.Second)
	answer = errors.New("404 not found")
	if err := get(); err == nil || fetches != 3 {
		t.Fatalf("after the failure TTL: %v, %d fetches", err, fetches)
	}
	if err := get(); err == nil || fetches != 4 {
		t.Fatalf("an error answer was remembered: %v, %d fetches", err, fetches)
	}

	// A caller waiting for another's fetch gives up with its context.
	c.once.Do(func() { c.lock = make(chan struct{}, 1) })
	c.lock <- struct{}{}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := c.Get(short, fetch); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting caller: %v; want its deadline", err)
	}
	<-c.lock
}
