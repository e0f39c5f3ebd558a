package buildbottest

import (
	"net/url"
)

// WorkerState is a worker as the master's REST API reports it: what tests of worker control
// read back (a pause is only real once the master says so).
type WorkerState struct {
	Paused    bool
	Graceful  bool // a graceful stop was asked for
	Connected bool
}

// Worker returns the state of the worker named name.
func (m *Master) Worker(name string) WorkerState {
	m.t.Helper()
	var r struct {
		Workers []struct {
			Paused      bool  `json:"paused"`
			Graceful    bool  `json:"graceful"`
			ConnectedTo []any `json:"connected_to"`
		} `json:"workers"`
	}
	if err := m.get("workers/"+url.PathEscape(name), &r); err != nil || len(r.Workers) != 1 {
		m.t.Fatalf("buildbottest: worker %q: %v (%d found)", name, err, len(r.Workers))
	}
	w := r.Workers[0]
	return WorkerState{Paused: w.Paused, Graceful: w.Graceful, Connected: len(w.ConnectedTo) > 0}
}

// SchedulerEnabled reports whether the scheduler named name is enabled on the master.
func (m *Master) SchedulerEnabled(name string) bool {
	m.t.Helper()
	var r struct {
		Schedulers []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"schedulers"`
	}
	if err := m.get("schedulers", &r); err != nil {
		m.t.Fatalf("buildbottest: schedulers: %v", err)
	}
	for _, s := range r.Schedulers {
		if s.Name == name {
			return s.Enabled
		}
	}
	m.t.Fatalf("buildbottest: no scheduler %q among %+v", name, r.Schedulers)
	return false
}
