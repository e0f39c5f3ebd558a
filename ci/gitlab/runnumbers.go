package gitlab

import (
	"sync"
	"time"
)

// A pipeline can run again without a new job: an optional manual job played after the
// pipeline passed moves that job, and a retried child pipeline or trigger job changes the
// parent's result; the jobs alone (runs) do not count those runs. runNumbers gives each
// finish of a pipeline that herald has not seen before, at a time the run it belongs to
// has not finished at, a run number of its own, so its event is news and not a duplicate
// of the finish before. It remembers what this process saw: after a restart, or on a
// replica that did not see the first finish, a run without a new job takes its jobs' run
// number again (and its finish is dropped as the duplicate of that run's).

// maxNumberedPipelines bounds the pipelines runNumbers remembers; past it, it starts over.
const maxNumberedPipelines = 10000

// maxNumberedFinishes bounds the finishes remembered of one pipeline (the newest kept).
const maxNumberedFinishes = 16

type runNumbers struct {
	mu sync.Mutex
	m  map[int64]*numberedRuns
}

// numberedRuns is what was seen of one pipeline.
type numberedRuns struct {
	jobRun   int  // the newest run its jobs told (runs.attempt)
	last     int  // the newest run number given
	active   bool // run last was seen running, and no finish of it
	tries    int  // a jobs' run whose new jobs may all be retry: tries (see runs.tries)
	finishes []numberedFinish
}

// numberedFinish is one finish seen: of the jobs' run jobRun, at at (to the second: a hook
// writes seconds, the API milliseconds), numbered run.
type numberedFinish struct {
	jobRun int
	at     time.Time
	run    int
}

// noteTries tells number that the jobs' run jobRun of a pipeline was made by jobs that
// may all be the retry: keyword's tries (runs.tries).
func (n *runNumbers) noteTries(pipelineID int64, jobRun int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.m[pipelineID]; s != nil {
		s.tries = jobRun
	}
}

// number replaces r.attempt, the run its jobs tell, by herald's run number: the jobs' run
// plus the runs without a new job seen before it. A finish seen before keeps its number; a
// new finish of a run that has finished already is the next run. A running pipeline keeps
// the number of the run it is at: a hook GitLab sent before the finish may be read after
// it, so running after a finish says nothing for sure (a restart's start is then taken as
// the finished run's, and its finish is the new run).
func (n *runNumbers) number(r *run, finished bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || len(n.m) >= maxNumberedPipelines {
		n.m = map[int64]*numberedRuns{}
	}
	jr := max(r.attempt, 1)
	s := n.m[r.id]
	if s == nil {
		s = &numberedRuns{jobRun: jr, last: jr}
		n.m[r.id] = s
	}
	at := r.finishedAt.Truncate(time.Second)
	if finished {
		for _, f := range s.finishes {
			if f.jobRun == jr && f.at.Equal(at) {
				r.attempt = f.run
				return
			}
		}
	}
	if jr < s.jobRun {
		return // an older run's jobs, read late: its number is its jobs'
	}
	if jr > s.jobRun {
		// New jobs made while the run was seen running, each as the one before failed: the
		// retry: keyword's tries in the same run, which never finished in between. Else
		// a retry: the next run.
		if !(s.active && s.tries == jr) {
			s.last += jr - s.jobRun
		}
		s.jobRun = jr
	}
	r.attempt = s.last
	if !finished {
		s.active = true
		for _, f := range s.finishes {
			if f.run == s.last {
				s.active = false // a hook sent before that finish, read late
			}
		}
		return
	}
	s.active = false
	for _, f := range s.finishes {
		if f.run == s.last {
			s.last++
			r.attempt = s.last
			break
		}
	}
	s.finishes = append(s.finishes, numberedFinish{jobRun: jr, at: at, run: r.attempt})
	if len(s.finishes) > maxNumberedFinishes {
		s.finishes = s.finishes[1:]
	}
}
