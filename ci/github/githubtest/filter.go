package githubtest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// runFilter holds the documented query parameters of the run lists.
type runFilter struct {
	actor, branch, event, status, headSHA string
	checkSuiteID                          int64
	created                               func(time.Time) bool
}

// statuses are the values of status a run may have; the filter also takes conclusions.
var runStatuses = map[string]bool{"queued": true, "in_progress": true, "completed": true,
	"requested": true, "waiting": true, "pending": true}

func parseRunFilter(q url.Values) (runFilter, error) {
	f := runFilter{actor: q.Get("actor"), branch: q.Get("branch"), event: q.Get("event"),
		status: q.Get("status"), headSHA: q.Get("head_sha")}
	if v := q.Get("check_suite_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return f, fmt.Errorf("Invalid check_suite_id: %s", v)
		}
		f.checkSuiteID = id
	}
	if v := q.Get("created"); v != "" {
		c, err := parseCreated(v)
		if err != nil {
			return f, err
		}
		f.created = c
	}
	return f, nil
}

func (f runFilter) match(rn *run) bool {
	at := rn.latest()
	switch {
	case f.actor != "" && !strings.EqualFold(f.actor, rn.actor):
		return false
	case f.branch != "" && f.branch != rn.branch:
		return false
	case f.event != "" && f.event != rn.event:
		return false
	case f.headSHA != "" && f.headSHA != rn.sha:
		return false
	case f.checkSuiteID != 0 && f.checkSuiteID != at.checkSuiteID:
		return false
	case f.created != nil && !f.created(rn.created):
		return false
	}
	if f.status != "" {
		if runStatuses[f.status] {
			return at.status == f.status
		}
		return at.status == "completed" && at.conclusion == f.status
	}
	return true
}

// parseCreated reads GitHub's search syntax for dates: >d, >=d, <d, <=d, a..b (either
// side may be *), or d alone. A date without a time is the whole day (UTC); one with a
// time is that second.
func parseCreated(v string) (func(time.Time) bool, error) {
	bad := fmt.Errorf("Invalid created filter: %s", v)
	span := func(s string) (lo, hi time.Time, err error) {
		s = strings.TrimSpace(s)
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t, t.AddDate(0, 0, 1), nil
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, t.Add(time.Second), nil
			}
		}
		return lo, hi, bad
	}
	if a, b, ok := strings.Cut(v, ".."); ok {
		var lo, hi time.Time
		var err error
		if a != "*" {
			if lo, _, err = span(a); err != nil {
				return nil, err
			}
		}
		if b != "*" {
			if _, hi, err = span(b); err != nil {
				return nil, err
			}
		}
		return func(t time.Time) bool {
			return (lo.IsZero() || !t.Before(lo)) && (hi.IsZero() || t.Before(hi))
		}, nil
	}
	for _, op := range []string{">=", "<=", ">", "<"} {
		rest, ok := strings.CutPrefix(v, op)
		if !ok {
			continue
		}
		lo, hi, err := span(rest)
		if err != nil {
			return nil, err
		}
		switch op {
		case ">=":
			return func(t time.Time) bool { return !t.Before(lo) }, nil
		case "<=":
			return func(t time.Time) bool { return t.Before(hi) }, nil
		case ">":
			return func(t time.Time) bool { return !t.Before(hi) }, nil
		default:
			return func(t time.Time) bool { return t.Before(lo) }, nil
		}
	}
	lo, hi, err := span(v)
	if err != nil {
		return nil, err
	}
	return func(t time.Time) bool { return !t.Before(lo) && t.Before(hi) }, nil
}
