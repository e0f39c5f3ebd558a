package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// Poller takes updates from Telegram by long polling. Each batch is stored with the next
// offset before Telegram is asked again (which is what acknowledges the batch), so updates
// survive a crash; the holder of the intake, in this process or another, hears of it from
// Postgres. One process polls at a time (Telegram answers 409 to the older of two polls):
// the one holding the poller role, which makes a new Poller each time it takes the role.
type Poller struct {
	st      *store.Store
	api     *tgbot.Bot
	intake  Submitter
	tg      *rawAPI
	timeout time.Duration
	health  *Health
	log     zerolog.Logger

	// The current run of 409 Conflict answers (see conflict).
	conflictRetry, conflictPersist, conflictRepeat time.Duration
	conflictSince, conflictTold                    time.Time
}

// How the poller meets 409 Conflict: asked again after conflictRetry; a run of conflicts
// longer than conflictPersist is an error, logged at most every conflictRepeat.
const (
	conflictRetry   = time.Second
	conflictPersist = time.Minute
	conflictRepeat  = 5 * time.Minute
)

// PollerOption changes a poller's defaults.
type PollerOption func(*Poller)

// PollerHealth makes the poller report its contact with Telegram to h as part "poller", and
// tells h that a success older than a long poll, its grace and a backoff is stale.
func PollerHealth(h *Health) PollerOption { return func(p *Poller) { p.health = h } }

// pollerConflict changes how conflicts are met (see conflict), for tests that cannot wait
// minutes.
func pollerConflict(retry, persist, repeat time.Duration) PollerOption {
	return func(p *Poller) { p.conflictRetry, p.conflictPersist, p.conflictRepeat = retry, persist, repeat }
}

// NewPoller returns a poller waiting up to timeout per getUpdates call, at apiURL or, when
// that is empty, where api calls. intake, if not nil, is this process's own intake, handed
// each stored batch so it need not read it back.
func NewPoller(st *store.Store, api *tgbot.Bot, intake Submitter, apiURL string, timeout time.Duration, log zerolog.Logger, opts ...PollerOption) *Poller {
	p := &Poller{
		st: st, api: api, intake: intake, timeout: timeout, log: log,
		tg:            newRawAPI(api.Token(), serverURL(api, apiURL), 1),
		conflictRetry: conflictRetry, conflictPersist: conflictPersist, conflictRepeat: conflictRepeat,
	}
	for _, o := range opts {
		o(p)
	}
	// A long poll answers within timeout; herald gives up pollGrace later; then a minute of
	// backoff at most before the next try (a longer retry_after shows as stale).
	p.health.Expect(healthPoller, timeout+pollGrace+time.Minute)
	return p
}

const healthPoller = "poller"

// Run polls until ctx ends. It removes a webhook first: Telegram refuses getUpdates while
// one is set. It returns only when ctx ends: database and network errors are retried.
func (p *Poller) Run(ctx context.Context) error {
	if _, err := p.api.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil && ctx.Err() == nil {
		p.log.Warn().Str("error", redactError(err, p.api.Token())).Msg("deleteWebhook failed; polling anyway")
	} else if err == nil {
		p.health.OK(healthPoller)
	}
	var offset int64
	if err := retryStart(ctx, p.log, "read the update offset", func(ctx context.Context) error {
		var err error
		offset, err = p.st.Offset(ctx)
		return err
	}); err != nil {
		return nil // ctx ended
	}
	var fails int
	var wait time.Duration
	for ctx.Err() == nil {
		if wait > 0 && !sleep(ctx, wait) {
			return nil
		}
		raws, err := getUpdates(ctx, p.tg, offset, p.timeout)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, tgbot.ErrorConflict) {
				fails, wait = 0, p.conflict(err)
				continue
			}
			fails++
			wait = p.failed(err, backoff(retryMin, retryMax, fails))
			continue
		}
		p.health.OK(healthPoller)
		fails, wait = 0, 0
		p.conflictEnded()
		if len(raws) == 0 {
			continue
		}
		ups := make([]store.Update, 0, len(raws))
		next := offset
		for _, raw := range raws {
			u, err := receive(raw)
			if err != nil {
				// Skip it, but past it: otherwise Telegram would send it again forever.
				var id struct {
					ID int64 `json:"update_id"`
				}
				_ = json.Unmarshal(raw, &id)
				if id.ID >= next {
					next = id.ID + 1
				}
				p.log.Error().Err(err).Int64("update_id", id.ID).Msg("skipping an update Telegram sent")
				continue
			}
			ups = append(ups, u)
			if u.ID >= next {
				next = u.ID + 1
			}
		}
		ups, err = p.save(ctx, ups, next)
		if err != nil {
			return nil // ctx ended; nothing was acknowledged
		}
		offset = next
		if p.intake != nil {
			p.intake.Submit(ups...)
		}
	}
	return nil
}

// failed logs a failed getUpdates and returns how long to wait before the next: backoff, or
// Telegram's retry_after when that is longer, since asking sooner only earns another 429.
func (p *Poller) failed(err error, wait time.Duration) time.Duration {
	p.health.Failed(healthPoller)
	var tooMany *tgbot.TooManyRequestsError
	switch {
	case errors.As(err, &tooMany):
		wait = max(wait, time.Duration(tooMany.RetryAfter)*time.Second)
		p.log.Warn().Err(err).Int("retry_after", tooMany.RetryAfter).Dur("retry_in", wait).Msg("getUpdates rate limited by Telegram")
	default:
		p.log.Warn().Err(err).Dur("retry_in", wait).Msg("getUpdates failed")
	}
	return wait
}

// conflict meets a 409 from getUpdates and returns how long to wait before the next.
// Telegram serves one long poll per token (a new one ends the open one with 409) and none
// while a webhook is set. Right after this process took the poller role, the previous
// holder's last poll may still be open, or it may ask once more before it notices it lost
// the role: that passes within seconds, so the poller asks again soon and only warns. A run
// of conflicts that lasts conflictPersist is something outside this database's lease —
// another program with this token, or a webhook someone set — which nothing here mends: it
// is an error that says what to do, and the readiness probe fails with it.
func (p *Poller) conflict(err error) time.Duration {
	now := time.Now()
	if p.conflictSince.IsZero() {
		p.conflictSince = now
		p.log.Warn().Err(err).Dur("retry_in", p.conflictRetry).
			Msg("getUpdates conflict: Telegram ended this poll for a newer one of this bot (right after a takeover, the previous poller's last); asking again")
	}
	lasted := now.Sub(p.conflictSince).Round(time.Second)
	if lasted < p.conflictPersist {
		return p.conflictRetry
	}
	reason := fmt.Sprintf("getUpdates conflict for %s: %s", lasted, conflictCause(err))
	p.health.FailedBecause(healthPoller, reason)
	if p.conflictTold.IsZero() || now.Sub(p.conflictTold) >= p.conflictRepeat {
		p.conflictTold = now
		p.log.Error().Err(err).Dur("conflict_for", lasted).Dur("repeated_every", p.conflictRepeat).Msg(reason)
	}
	return p.conflictRetry
}

// conflictCause says what a lasting 409 means, from Telegram's description, and what to do.
func conflictCause(err error) string {
	if strings.Contains(err.Error(), "webhook") {
		return "a webhook is set for this bot, by something other than this poller (which removed it when it started): " +
			"a herald in webhook mode with this token, or another program. Run every herald on this token in the same mode, " +
			"or stop what sets the webhook; this poller removes it again only when it restarts"
	}
	return "another program polls Telegram with this bot's token, outside this database " +
		"(herald replicas on one database take turns and never poll at once): another herald with another database, " +
		"a copy on someone's machine, or another bot program. Stop it, or revoke the token in @BotFather and give herald the new one"
}

// conflictEnded ends a run of conflicts on the first poll that works.
func (p *Poller) conflictEnded() {
	if p.conflictSince.IsZero() {
		return
	}
	if !p.conflictTold.IsZero() {
		p.log.Info().Dur("conflict_for", time.Since(p.conflictSince).Round(time.Second)).Msg("getUpdates works again: the conflict is over")
	}
	p.conflictSince, p.conflictTold = time.Time{}, time.Time{}
}

// save retries storing a batch until it works or ctx ends, and returns what to hand on: the
// batch must not be acknowledged before it is stored. An update Postgres refuses is stored
// re-encoded or as a stub by SaveUpdates (which puts what it stored in ups); a data error is
// never retried: the same batch would fail the same way for ever, and no chat would be served
// again. Should one get through anyway, the batch is logged and skipped.
func (p *Poller) save(ctx context.Context, ups []store.Update, next int64) ([]store.Update, error) {
	for fails := 1; ; fails++ {
		stubbed, err := p.st.SaveUpdates(ctx, ups, next)
		for _, id := range stubbed {
			p.log.Error().Int64("update_id", id).Msg("Postgres refuses this update even cleaned; stored with its id only, and skipped")
		}
		if err == nil {
			return ups, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if store.IsDataError(err) && len(ups) > 0 {
			p.log.Error().Err(err).Int("updates", len(ups)).Msg("Postgres refuses this batch of updates; skipping it")
			ups, fails = nil, 0
			continue
		}
		wait := backoff(retryMin, retryMax, fails)
		p.log.Error().Err(err).Dur("retry_in", wait).Msg("cannot store updates")
		if !sleep(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}
