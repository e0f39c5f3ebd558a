package githubtest

import (
	"time"
)

// AutoPlay walks the runs that a dispatch or a re-run creates through their states
// by itself, so a client that dispatches sees the run start and end as on GitHub.
type AutoPlay struct {
	// Step is the pause before the run starts and again before it completes.
	Step time.Duration
	// Conclusion decides how the attempt ends ("success", "failure", …); nil: success.
	// inputs are the dispatch's (nil for other events), attempt counts from 1.
	Conclusion func(repo, workflowPath, ref string, inputs map[string]any, attempt int) string
}

// SetAutoPlay turns auto-play on (a non-nil a) or off for runs created from now on.
func (s *Server) SetAutoPlay(a *AutoPlay) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a != nil {
		cp := *a
		a = &cp
	}
	s.autoplay = a
}

// autoPlayLocked starts walking an attempt if auto-play is on. The walk stops if the
// attempt is completed by someone else (a cancel) or the server closes.
func (s *Server) autoPlayLocked(rn *run, at *attempt) {
	a := s.autoplay
	if a == nil {
		return
	}
	select {
	case <-s.closed:
		return
	default:
	}
	repoName, wfPath, ref, inputs := rn.repo.full(), rn.wf.path, rn.branch, rn.inputs
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if !s.pause(a.Step) {
			return
		}
		conclusion := "success"
		if a.Conclusion != nil {
			if c := a.Conclusion(repoName, wfPath, ref, inputs, at.number); c != "" {
				conclusion = c
			}
		}
		s.mu.Lock()
		live := rn.latest() == at && at.status != "completed"
		if live {
			s.startRunLocked(rn, "build", "Run tests")
		}
		s.mu.Unlock()
		if !live || !s.pause(a.Step) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if rn.latest() == at && at.status != "completed" {
			failed := ""
			if conclusion != "success" {
				failed = "Run tests"
			}
			s.completeRunLocked(rn, conclusion, "build", failed)
		}
	}()
}

// pause waits d, or reports false if the server closes first.
func (s *Server) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.closed:
		return false
	}
}
