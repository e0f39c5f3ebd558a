package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// TagStore keeps the builder tags a chat's (or topic's) subscription is limited to: /notify
// on … tag=NAME hears only builders with one of them (Buildbot's builder tags). It is
// optional: a Storage without it (a test's fake) has no tags, and /notify says so.
type TagStore interface {
	NotifyTags(ctx context.Context, chatID, threadID int64) ([]string, error)
	SetNotifyTags(ctx context.Context, chatID, threadID int64, tags []string) error
}

// parseTags reads "a,b" into tags, each once; "" and "*" clear them. Tags are names, not
// patterns: they are compared as they are.
func parseTags(val string) []string {
	out := []string{}
	for _, t := range strings.Split(val, ",") {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(out, t) {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 1 && out[0] == "*" {
		return []string{}
	}
	return out
}

func (d Deps) loadTags(ctx context.Context, req Request) ([]string, error) {
	ts, ok := d.Store.(TagStore)
	if !ok {
		return nil, nil
	}
	tags, err := ts.NotifyTags(ctx, req.ChatID, req.ThreadID)
	if err != nil {
		return nil, fmt.Errorf("commands: notify: %w", err)
	}
	return tags, nil
}

// saveTags stores tags when the store keeps them. It writes even when they did not change:
// one statement, and the caller need not remember what was loaded.
func (d Deps) saveTags(ctx context.Context, req Request, tags []string) error {
	ts, ok := d.Store.(TagStore)
	if !ok {
		return nil
	}
	if err := ts.SetNotifyTags(ctx, req.ChatID, req.ThreadID, tags); err != nil {
		return fmt.Errorf("commands: notify: %w", err)
	}
	return nil
}
