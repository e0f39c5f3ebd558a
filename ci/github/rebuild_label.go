package github

// RebuildLabel is what GitHub calls Rebuild on a run's page (ci.Rebuilder).
func (p *Provider) RebuildLabel() string { return "Re-run failed jobs" }
