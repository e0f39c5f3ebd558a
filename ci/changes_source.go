package ci

import (
	"context"
	"strings"
	"time"
)

// Change is one change a CI knows of: a commit (or patch) it may build, as Buildbot's change
// sources report them. /list changes shows the newest.
type Change struct {
	Conn       string
	ID         string
	Author     string
	Revision   string
	Branch     string
	Repository string
	Comments   string // the whole message; CommentsLine is its first line
	URL        string // a link to the revision (Buildbot's revlink), may be empty
	At         time.Time
}

// CommentsLine is the first non-empty line of the change's comments: what a list shows.
func (c Change) CommentsLine() string {
	for _, l := range strings.Split(c.Comments, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// SourceChangeLister is the optional capability to list the changes a CI has seen (Buildbot's
// /changes). It is not ChangeLister, which lists builds that changed.
type SourceChangeLister interface {
	// RecentChanges returns the newest n changes, newest first.
	RecentChanges(ctx context.Context, n int) ([]Change, error)
}

// CleanChange is c with every string cleaned.
func CleanChange(c Change, now time.Time) Change {
	for _, f := range []*string{&c.Conn, &c.ID, &c.Author, &c.Revision, &c.Branch, &c.Repository, &c.URL} {
		*f = CleanText(*f)
	}
	c.Comments = CleanText(c.Comments)
	c.At = PlausibleTime(c.At, now)
	return c
}

// BuildRevisions is every revision b is of: Revisions when the CI named several, else
// Revision alone, else none.
func BuildRevisions(b Build) []string {
	if len(b.Revisions) > 0 {
		return b.Revisions
	}
	if b.Revision != "" {
		return []string{b.Revision}
	}
	return nil
}
