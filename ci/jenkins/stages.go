package jenkins

import (
	"context"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// A Pipeline build's stages come from the workflow API of the Pipeline: Stage View plugin
// (<build>/wfapi/describe): the stage running now is the build's current step, the first
// stage that failed its failed step. A freestyle build has no stages; a Jenkins without the
// plugin answers 404 for every build: after wfapiGone 404s in a row herald stops asking
// for wfapiRecheck. One 404 alone is a build discarded since the jobs were read.

// wfapiGone is how many 404s in a row say the plugin is missing; wfapiRecheck how long
// herald then goes without asking (the plugin may be installed meanwhile).
const (
	wfapiGone    = 3
	wfapiRecheck = time.Hour
)

// describeJSON is wfapi/describe's answer, the fields herald reads.
type describeJSON struct {
	Status string `json:"status"`
	Stages []struct {
		Name   string `json:"name"`
		Status string `json:"status"` // SUCCESS, FAILED, IN_PROGRESS, PAUSED_PENDING_INPUT, NOT_EXECUTED, ABORTED, UNSTABLE
	} `json:"stages"`
}

// isPipeline says whether a build is a Pipeline's (a WorkflowRun), which has stages.
func isPipeline(b buildJSON) bool { return strings.HasSuffix(b.Class, ".WorkflowRun") }

// wantsStage says whether a build's stage is worth a request: it runs, or it failed.
func wantsStage(b ci.Build) bool {
	return !b.Complete || b.Result == ci.ResultFailure
}

// addStages fills the current or failed stage of the builds whose pipeline[i] is true, the
// first maxStepRequests that want one. A build whose stages cannot be read is shown without.
//
// A finished build's failed stage is remembered (at most maxKnownStages builds): every
// catch-up reads the builds of its slack again, and the stage of a build that has ended no
// longer changes, so it costs one request, not one a poll.
func (p *Provider) addStages(ctx context.Context, bs []ci.Build, pipeline []bool) {
	asked := 0
	for i := range bs {
		if !pipeline[i] || !wantsStage(bs[i]) {
			continue
		}
		p.mu.Lock()
		stage, known := p.failedAt[bs[i].ID]
		p.mu.Unlock()
		if known && bs[i].Complete {
			bs[i].FailedStep = stage
			continue
		}
		if asked >= maxStepRequests {
			continue
		}
		p.mu.Lock()
		off := p.now().Before(p.noWfapi)
		p.mu.Unlock()
		if off || ctx.Err() != nil {
			return
		}
		asked++
		job, number, err := parseBuildID(bs[i].ID)
		if err != nil {
			continue
		}
		var d describeJSON
		err = p.c.getJSON(ctx, buildPath(job, number)+"wfapi/describe", nil, &d)
		p.mu.Lock()
		if statusOf(err) == 404 {
			p.wfapi404++
		} else if err == nil {
			p.wfapi404 = 0
		}
		gone := p.wfapi404 >= wfapiGone
		if gone {
			p.wfapi404, p.noWfapi = 0, p.now().Add(wfapiRecheck)
		}
		p.mu.Unlock()
		if gone {
			p.log.Info().Dur("recheck", wfapiRecheck).Msg("jenkins: no workflow API (Pipeline: Stage View plugin); builds are shown without their stage")
			return
		}
		if err != nil {
			p.log.Debug().Err(err).Str("build", bs[i].ID).Msg("jenkins: stages not read")
			continue
		}
		if bs[i].Complete {
			bs[i].FailedStep = ci.CleanText(failedStage(d))
			p.rememberStage(bs[i].ID, bs[i].FailedStep)
		} else {
			bs[i].CurrentStep = ci.CleanText(currentStage(d))
		}
	}
}

// maxKnownStages bounds the failed stages remembered; past it the memory starts over, which
// costs a request per failed build of the next catch-ups, nothing more.
const maxKnownStages = 1000

// rememberStage keeps the failed stage of a finished build.
func (p *Provider) rememberStage(id, stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failedAt == nil || len(p.failedAt) >= maxKnownStages {
		p.failedAt = map[string]string{}
	}
	p.failedAt[id] = stage
}

// currentStage is the stage running now, or the one waiting for a person's input.
func currentStage(d describeJSON) string {
	for _, s := range d.Stages {
		switch s.Status {
		case "IN_PROGRESS":
			return s.Name
		case "PAUSED_PENDING_INPUT":
			return s.Name + " (waiting for input)"
		}
	}
	return ""
}

// failedStage is the first stage that failed.
func failedStage(d describeJSON) string {
	for _, s := range d.Stages {
		if s.Status == "FAILED" {
			return s.Name
		}
	}
	return ""
}
