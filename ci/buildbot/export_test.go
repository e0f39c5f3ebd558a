package buildbot

import "time"

// SetClock gives the tests of package buildbot_test the provider's clock, so that what
// depends on time (the overview's TTL) does not depend on how busy the machine is.
func SetClock(p *Provider, now func() time.Time) { p.now = now }
