package commands

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/herald-ci/herald/ci/hook"
)

// hookPrefix names a webhook of herald's config among /notify's events: hook:allure. It is
// stored that way among a subscription's events, where no CI kind matches it.
const hookPrefix = "hook:"

// HookStore says what kind a hook is (hook.KindMessage, hook.KindCheck; "" when there is no
// such hook) and whether a chat may hear it. It is optional: a Storage without it (a test's
// fake) takes any well-formed name.
type HookStore interface {
	HookAccess(ctx context.Context, name string, chatID int64) (kind string, allowed bool, err error)
}

var hookName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// cutHook reads "hook:NAME" (any case for the prefix).
func cutHook(s string) (string, bool) {
	if len(s) < len(hookPrefix) || !strings.EqualFold(s[:len(hookPrefix)], hookPrefix) {
		return "", false
	}
	return strings.TrimSuffix(s[len(hookPrefix):], ","), true
}

func validHookName(name string) error {
	if !hookName.MatchString(name) {
		return Userf("hook:%s is not a hook name: names are lower case, like hook:allure.", name)
	}
	return nil
}

// mayHearHooks is "" when this chat may turn on every hook named, else why not (plain text).
func (d Deps) mayHearHooks(ctx context.Context, req Request, names []string) (string, error) {
	hs, ok := d.Store.(HookStore)
	if !ok {
		return "", nil
	}
	for _, name := range names {
		kind, allowed, err := hs.HookAccess(ctx, name, req.ChatID)
		switch {
		case err != nil:
			return "", fmt.Errorf("commands: notify: %w", err)
		case kind == "":
			return fmt.Sprintf("There is no hook %s in herald's config.", name), nil
		case kind == hook.KindCheck:
			// Its results are builds of its checks: hook:NAME would subscribe to nothing.
			return fmt.Sprintf("The hook %s is a check: its results come as problem and recovery of its checks. "+
				"Use /notify on problem recovery (with builder=CHECK for one check) instead.", name), nil
		case !allowed:
			return fmt.Sprintf("This chat may not hear hook %s: its allow_chats in herald's config does not name this chat.", name), nil
		}
	}
	return "", nil
}

// applyHooks is the hooks a /notify on or off leaves on.
func applyHooks(cur []string, nc NotifyCommand) []string {
	out := slices.Clone(cur)
	for _, h := range nc.Hooks {
		has := slices.Contains(out, h)
		switch {
		case nc.Action == "on" && !has:
			out = append(out, h)
		case nc.Action == "off" && has:
			out = slices.DeleteFunc(out, func(x string) bool { return x == h })
		}
	}
	return out
}
