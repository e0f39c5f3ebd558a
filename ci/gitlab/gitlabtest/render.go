package gitlabtest

import (
	"fmt"
	"strings"
)

// The API's JSON of the fake's objects, under the lock.

func (s *Server) renderProjectLocked(p *project) apiProject {
	name := p.path[strings.LastIndex(p.path, "/")+1:]
	return apiProject{
		ID: p.id, Description: p.description, Name: name, Path: name,
		NameWithNamespace: strings.ReplaceAll(p.path, "/", " / "), PathWithNamespace: p.path,
		DefaultBranch: p.defaultBranch, WebURL: s.url + "/" + p.path,
		BuildsAccessLevel: "enabled", JobsEnabled: true, CreatedAt: apiTime(s.opts.Clock()),
	}
}

func (s *Server) renderCommit(c Commit) apiCommitRef {
	short := c.SHA
	if len(short) > 8 {
		short = short[:8]
	}
	at := apiTime(s.opts.Clock())
	return apiCommitRef{
		ID: c.SHA, ShortID: short, Title: subject(c.Message), Message: c.Message, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail,
		AuthoredDate: at, CommitterName: c.AuthorName, CommittedDate: at, CreatedAt: at,
	}
}

func (s *Server) renderUser(u User) apiUser {
	return apiUser{ID: u.ID, Name: u.Name, Username: u.Username, State: "active", WebURL: s.url + "/" + u.Username}
}

func (s *Server) pipelineURL(pl *pipeline) string {
	return fmt.Sprintf("%s/%s/-/pipelines/%d", s.url, pl.project.path, pl.id)
}

func (s *Server) renderInfoLocked(pl *pipeline) apiPipelineInfo {
	return apiPipelineInfo{
		ID: pl.id, IID: pl.iid, ProjectID: pl.project.id, Status: pl.status, Source: pl.source, Ref: pl.ref, SHA: pl.sha,
		WebURL: s.pipelineURL(pl), CreatedAt: apiTime(pl.createdAt), UpdatedAt: apiTime(pl.updatedAt),
	}
}

// detailedStatus is the status as GitLab's pages show it.
func detailedStatus(status string) apiDetailedStatus {
	text := map[string]string{"success": "passed", "failed": "failed", "canceled": "canceled", "running": "running", "pending": "pending", "created": "created", "skipped": "skipped"}[status]
	if text == "" {
		text = status
	}
	return apiDetailedStatus{Icon: "status_" + status, Text: text, Label: text, Group: status, Tooltip: text, Favicon: "favicon_status_" + status}
}

func (s *Server) renderPipelineLocked(pl *pipeline) apiPipeline {
	v := apiPipeline{
		ID: pl.id, IID: pl.iid, ProjectID: pl.project.id, Status: pl.status, Source: pl.source, Ref: pl.ref, SHA: pl.sha,
		BeforeSHA: strings.Repeat("0", 40), User: s.renderUser(pl.user),
		CreatedAt: apiTime(pl.createdAt), UpdatedAt: apiTime(pl.updatedAt),
		StartedAt: apiTimePtr(pl.startedAt), FinishedAt: apiTimePtr(pl.finishedAt),
		WebURL: s.pipelineURL(pl), DetailedStatus: detailedStatus(pl.status),
	}
	v.DetailedStatus.HasDetails = true
	v.DetailedStatus.DetailsPath = fmt.Sprintf("/%s/-/pipelines/%d", pl.project.path, pl.id)
	if !pl.startedAt.IsZero() && !pl.finishedAt.IsZero() {
		d := int64(pl.finishedAt.Sub(pl.startedAt).Seconds())
		v.Duration = &d
	}
	return v
}

func (s *Server) renderJobLocked(pl *pipeline, j *job) apiJob {
	v := apiJob{
		Commit: s.renderCommit(pl.commit), AllowFailure: j.spec.AllowFailure || j.spec.Manual, CreatedAt: apiTime(j.createdAt),
		StartedAt: apiTimePtr(j.startedAt), FinishedAt: apiTimePtr(j.finishedAt), TagList: []string{},
		ID: j.id, Name: j.spec.Name, Ref: pl.ref, Artifacts: []any{}, Stage: j.spec.Stage, Status: j.status,
		FailureReason: j.failureReason, WebURL: fmt.Sprintf("%s/%s/-/jobs/%d", s.url, pl.project.path, j.id),
		User:     s.renderUser(j.user),
		Pipeline: apiJobPipeline{ID: pl.id, ProjectID: pl.project.id, Ref: pl.ref, SHA: pl.sha, Status: pl.status},
	}
	if !j.startedAt.IsZero() && !j.finishedAt.IsZero() {
		d := j.finishedAt.Sub(j.startedAt).Seconds()
		v.Duration = &d
	}
	return v
}
