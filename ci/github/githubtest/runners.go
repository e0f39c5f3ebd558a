package githubtest

import (
	"fmt"
	"net/http"
)

// runner is a self-hosted runner registered on a repository.
type runner struct {
	id     int64
	name   string
	online bool
	busy   bool
	labels []string
}

// AddRunner registers a self-hosted runner on a repository and returns its id. Jobs
// that start are given the first online runner.
func (s *Server) AddRunner(repoName, name string, online, busy bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepoLocked(repoName)
	rn := &runner{id: s.newIDLocked("runner"), name: name, online: online, busy: busy,
		labels: []string{"self-hosted", "Linux", "X64"}}
	rp.runners = append(rp.runners, rn)
	s.notifyLocked()
	return rn.id
}

// SetRunner changes a runner's status.
func (s *Server) SetRunner(repoName string, id int64, online, busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.mustRepoLocked(repoName).runners {
		if rn.id == id {
			rn.online, rn.busy = online, busy
			s.notifyLocked()
			return
		}
	}
	panic(fmt.Sprintf("githubtest: SetRunner: no runner %d in %s", id, repoName))
}

func (s *Server) pickRunnerLocked(rp *repo) *runner {
	for _, rn := range rp.runners {
		if rn.online {
			return rn
		}
	}
	return nil
}

type labelJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type runnerJSON struct {
	ID     int64       `json:"id"`
	Name   string      `json:"name"`
	OS     string      `json:"os"`
	Status string      `json:"status"`
	Busy   bool        `json:"busy"`
	Labels []labelJSON `json:"labels"`
}

func (s *Server) listRunners(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return
	}
	pg, _ := s.page(w, r)
	s.mu.Lock()
	all := make([]runnerJSON, 0, len(rp.runners))
	for _, rn := range rp.runners {
		status := "offline"
		if rn.online {
			status = "online"
		}
		j := runnerJSON{ID: rn.id, Name: rn.name, OS: "Linux", Status: status, Busy: rn.busy && rn.online, Labels: []labelJSON{}}
		for i, l := range rn.labels {
			j.Labels = append(j.Labels, labelJSON{ID: int64(i + 1), Name: l, Type: "read-only"})
		}
		all = append(all, j)
	}
	s.mu.Unlock()
	from, to := pg.bounds(len(all))
	pg.link(w, r, len(all))
	s.ok(w, r, map[string]any{"total_count": len(all), "runners": all[from:to]})
}
