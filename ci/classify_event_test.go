package ci

import (
	"slices"
	"testing"
)

func TestClassifyEvent(t *testing.T) {
	ok := &Build{ID: "1", Builder: "linux", Complete: true, Result: ResultSuccess}
	bad := Build{ID: "2", Builder: "linux", Complete: true, Result: ResultFailure}
	tests := []struct {
		name string
		ev   Event
		want []Kind
	}{
		{"finished after a success is a problem", Event{Kind: KindFinished, Build: &bad, Previous: ok},
			[]Kind{KindFailure, KindProblem, KindWorse}},
		{"finished with no build before", Event{Kind: KindFinished, Build: &bad}, []Kind{KindFailure}},
		{"started derives nothing", Event{Kind: KindStarted, Build: &Build{ID: "3"}, Derived: []Kind{KindProblem}}, nil},
		{"worker derives nothing", Event{Kind: KindWorker, Worker: &Worker{Name: "w"}}, nil},
		{"finished without a build derives nothing", Event{Kind: KindFinished}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassifyEvent(tt.ev).Derived; !slices.Equal(got, tt.want) {
				t.Errorf("Derived = %v, want %v", got, tt.want)
			}
		})
	}
}
