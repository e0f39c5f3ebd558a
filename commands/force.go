package commands

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// Force answers /force [builder]: a conversation on inline keyboards. Force scheduler
// (skipped when there is one) → builder (skipped when there is one) → the scheduler's fields,
// each set by pressing it and answering → Start. The conversation lives in Postgres, so it
// goes on after a restart. Right before calling the CI the user who pressed Start is checked
// against the matrix with the builder; the attempt is audited either way. Then herald follows
// the build: the chat is told when it starts and how it ends.
func Force(d Deps) Command {
	return Command{
		Name:      "force",
		Summary:   "force a build",
		Dangerous: true,
		Help: "/force opens a keyboard: pick the force scheduler and the builder, set the build's " +
			"parameters (required ones are marked *; press one and send its value), then press Start. " +
			"/force NAME starts with that builder. I tell the chat when the build starts and how it ends. " +
			"/nay cancels. A failure on a CI that can re-run builds has a 🔁 Re-run failed jobs button " +
			"under it: pressing it needs the same right on that builder.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if req.Button != nil {
				return d.forcePress(ctx, req)
			}
			typed := ""
			if len(req.Args) > 0 {
				typed = req.Args[0]
			}
			return d.forceStart(ctx, req, typed, 0)
		}),
	}
}

// forceSchedulers lists the force schedulers with only the builders the user may force.
func (d Deps) forceSchedulers(ctx context.Context, req Request, typed string) ([]ci.ForceScheduler, []string) {
	var out []ci.ForceScheduler
	var problems []string
	for _, p := range d.CI {
		f, ok := p.(ci.Forcer)
		if !ok {
			continue
		}
		scheds, err := d.offered(ctx, req, p.Name(), f, typed)
		if err != nil {
			problems = append(problems, d.unreachable(p.Name(), err, "force: schedulers"))
			continue
		}
		out = append(out, scheds...)
	}
	return out, problems
}

// offered is connection conn's force schedulers with only the builders the user may force
// (and, with typed, only that builder).
func (d Deps) offered(ctx context.Context, req Request, conn string, f ci.Forcer, typed string) ([]ci.ForceScheduler, error) {
	m := d.matrix()
	cctx, cancel := d.ciContext(ctx)
	scheds, err := f.ForceSchedulers(cctx)
	cancel()
	if err != nil {
		return nil, err
	}
	var out []ci.ForceScheduler
	for _, s := range scheds {
		s.Conn = conn
		var keep []string
		for _, b := range s.Builders {
			if typed != "" && !d.matches(typed, s.Conn, b) {
				continue
			}
			if m.Decide(req.UserID, "force", b).Allowed {
				keep = append(keep, b)
			}
		}
		if len(keep) > 0 {
			s.Builders = keep
			out = append(out, s)
		}
	}
	return out, nil
}

// forceStart offers the force schedulers (page page of them), or goes on with the only one.
func (d Deps) forceStart(ctx context.Context, req Request, typed string, page int) (Response, error) {
	scheds, problems := d.forceSchedulers(ctx, req, typed)
	switch {
	case len(scheds) == 0 && typed != "":
		msg := fmt.Sprintf("I cannot force %s: no force scheduler offers it to you.", Escape(typed))
		if why := d.decide(ctx, req, "force", typed, "", typed); why != "" {
			msg = Escape(why)
		}
		return Say(strings.Join(append(problems, msg), "\n")), nil
	case len(scheds) == 0:
		return Say(strings.Join(append(problems, "There is no builder you can force."), "\n")), nil
	case len(scheds) == 1:
		return d.forceBuilders(ctx, req, scheds[0], 0)
	}
	var rows [][]Button
	for _, s := range scheds {
		text := s.Label
		if text == "" {
			text = s.Name
		}
		rows = append(rows, []Button{{Text: d.label(s.Conn, text), Data: btn{Act: "sched", Conn: s.Conn, Sched: s.Name}.data("force")}})
	}
	kb, shown, pages := paginate(rows, page, func(p int) string { return btn{Act: "scheds", Value: typed, Page: p}.data("force") })
	text := strings.Join(append(problems, "Which force scheduler?"+pageNote(shown, pages)), "\n")
	return Response{Replies: []Reply{edit(req, text, kb)}}, nil
}

// forceBuilders offers the scheduler's builders (page page of them), or goes on with the
// only one.
func (d Deps) forceBuilders(ctx context.Context, req Request, s ci.ForceScheduler, page int) (Response, error) {
	if len(s.Builders) == 1 {
		return d.forceBegin(ctx, req, s, s.Builders[0])
	}
	var rows [][]Button
	for _, b := range s.Builders {
		rows = append(rows, []Button{{Text: d.label(s.Conn, b), Data: btn{Act: "builder", Conn: s.Conn, Sched: s.Name, Builder: b}.data("force")}})
	}
	kb, shown, pages := paginate(rows, page, func(p int) string {
		return btn{Act: "builders", Conn: s.Conn, Sched: s.Name, Page: p}.data("force")
	})
	return Response{Replies: []Reply{edit(req, "Which builder should I force?"+pageNote(shown, pages), kb)}}, nil
}

// scheduler finds one force scheduler again, with only the builders the user may force,
// asking only its own connection. found is false when it is gone (or offers the user
// nothing); err is the CI's failure to say.
func (d Deps) scheduler(ctx context.Context, req Request, conn, name string) (s ci.ForceScheduler, found bool, err error) {
	f, ok := d.forcer(conn)
	if !ok {
		return ci.ForceScheduler{}, false, nil
	}
	scheds, err := d.offered(ctx, req, conn, f, "")
	if err != nil {
		return ci.ForceScheduler{}, false, err
	}
	for _, s := range scheds {
		if s.Name == name {
			return s, true, nil
		}
	}
	return ci.ForceScheduler{}, false, nil
}

// forceBegin starts the user's conversation for one builder and shows its parameters.
func (d Deps) forceBegin(ctx context.Context, req Request, s ci.ForceScheduler, builder string) (Response, error) {
	if why := d.decide(ctx, req, "force", requestArgs(req), s.Conn, builder); why != "" {
		return Response{Notice: why, Replies: []Reply{edit(req, Escape(why), nil)}}, nil
	}
	c := convo{Command: "force", Conn: s.Conn, Scheduler: s.Name, Builder: builder, Params: map[string]string{}, Fields: s.Fields}
	for _, f := range s.Fields {
		if f.Default != "" {
			c.Params[f.Name] = f.Default
		}
	}
	if req.Button != nil {
		c.MessageID = req.MessageID
	}
	if err := d.startConvo(ctx, req, &c); err != nil {
		return Response{}, err
	}
	return Response{Replies: []Reply{edit(req, d.forceFormText(c, ""), d.forceFormKeyboard(c, req.UserID))}}, nil
}

func (d Deps) forcePress(ctx context.Context, req Request) (Response, error) {
	b, err := parseBtn("force", req.Button.Data)
	if err != nil {
		return badButton(), nil
	}
	switch b.Act {
	case "rerun":
		return d.rerunPress(ctx, req, b)
	case "scheds":
		return d.forceStart(ctx, req, b.Value, b.Page)
	case "sched", "builders":
		s, ok, err := d.scheduler(ctx, req, b.Conn, b.Sched)
		if err != nil {
			return d.pressFailed(b.Conn, err, "force: schedulers")
		}
		if !ok {
			return staleButton(req, "force"), nil
		}
		return d.forceBuilders(ctx, req, s, b.Page)
	case "builder":
		s, ok, err := d.scheduler(ctx, req, b.Conn, b.Sched)
		if err != nil {
			return d.pressFailed(b.Conn, err, "force: schedulers")
		}
		if !ok || !slices.Contains(s.Builders, b.Builder) {
			// Gone from the CI, or not the presser's to force: decide says which.
			if why := d.decide(ctx, req, "force", requestArgs(req), b.Conn, b.Builder); why != "" {
				return Response{Notice: why}, nil
			}
			return staleButton(req, "force"), nil
		}
		return d.forceBegin(ctx, req, s, b.Builder)
	}
	c, stale, err := d.ownConvo(ctx, req, b, "force")
	if err != nil || stale != nil {
		return derefOr(stale), err
	}
	switch b.Act {
	case "field":
		return d.forceField(ctx, req, c, b.Field, b.Page)
	case "set":
		f, ok := c.field(b.Field)
		if !ok || (f.Type == ci.FieldChoice && !slices.Contains(f.Choices, b.Value)) {
			return badButton(), nil
		}
		c.Params[f.Name] = b.Value
		c.Asking = ""
		return d.forceRedraw(ctx, req, c, "")
	case "form":
		c.Asking = ""
		return d.forceRedraw(ctx, req, c, "")
	case "cancel":
		if _, err := d.Store.EndConversation(ctx, c.id); err != nil {
			return Response{}, err
		}
		return Response{Replies: []Reply{{Edit: true, Text: "Cancelled: nothing was forced."}}}, nil
	case "go":
		return d.forceGo(ctx, req, c)
	default:
		return badButton(), nil
	}
}

func derefOr(r *Response) Response {
	if r == nil {
		return Response{}
	}
	return *r
}

func (c convo) field(name string) (ci.ForceField, bool) {
	for _, f := range c.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return ci.ForceField{}, false
}

// forceField reacts to a field's button: a bool flips, a choice offers its values (page page
// of them), anything else asks for the value as the user's next message.
func (d Deps) forceField(ctx context.Context, req Request, c convo, name string, page int) (Response, error) {
	f, ok := c.field(name)
	if !ok {
		return badButton(), nil
	}
	back := []Button{
		{Text: "← Back", Data: btn{Act: "form", Conv: c.id, User: req.UserID}.data("force")},
		{Text: "✖ Cancel", Data: btn{Act: "cancel", Conv: c.id, User: req.UserID}.data("force")},
	}
	switch f.Type {
	case ci.FieldBool:
		if isTrue(c.Params[f.Name]) {
			c.Params[f.Name] = "false"
		} else {
			c.Params[f.Name] = "true"
		}
		c.Asking = ""
		return d.forceRedraw(ctx, req, c, "")
	case ci.FieldChoice:
		var rows [][]Button
		for _, v := range f.Choices {
			rows = append(rows, []Button{{Text: v, Data: btn{Act: "set", Field: f.Name, Value: v, Conv: c.id, User: req.UserID}.data("force")}})
		}
		kb, shown, pages := paginate(rows, page, func(p int) string {
			return btn{Act: "field", Field: f.Name, Conv: c.id, User: req.UserID, Page: p}.data("force")
		})
		kb = append(kb, back)
		c.Asking = ""
		if _, err := d.saveConvo(ctx, c); err != nil {
			return Response{}, err
		}
		text := fmt.Sprintf("Pick <b>%s</b>%s:", Escape(fieldLabel(f)), pageNote(shown, pages))
		return Response{Replies: []Reply{{Edit: true, Text: text, Keyboard: kb}}}, nil
	default:
		c.Asking = f.Name
		found, err := d.saveConvo(ctx, c)
		if err != nil {
			return Response{}, err
		}
		if !found {
			return staleButton(req, "force"), nil
		}
		q := fmt.Sprintf("Send me <b>%s</b>", Escape(fieldLabel(f)))
		if f.Type == ci.FieldInt {
			q += " (a whole number)"
		}
		q += " as your next message"
		if !req.Private() {
			q += " (reply to this message)"
		}
		q += "."
		if v := c.Params[f.Name]; v != "" {
			q += "\nNow: <code>" + Escape(v) + "</code>"
		}
		return Response{Replies: []Reply{{Edit: true, Text: q, Keyboard: [][]Button{back}}}}, nil
	}
}

// forceAnswer takes the user's message as the value of the field being asked.
func (d Deps) forceAnswer(ctx context.Context, req Request, c convo) (Response, error) {
	f, ok := c.field(c.Asking)
	if !ok {
		c.Asking = ""
		return d.forceRedraw(ctx, req, c, "")
	}
	v := strings.TrimSpace(req.Text)
	if f.Type == ci.FieldInt {
		if _, err := strconv.Atoi(v); err != nil && v != "" {
			return Say(fmt.Sprintf("<b>%s</b> must be a whole number. Send it again, or /nay to cancel.", Escape(fieldLabel(f)))), nil
		}
	}
	if f.Required && v == "" {
		return Say(fmt.Sprintf("<b>%s</b> is required. Send it again, or /nay to cancel.", Escape(fieldLabel(f)))), nil
	}
	c.Params[f.Name] = v
	c.Asking = ""
	return d.forceRedraw(ctx, req, c, "")
}

// forceRedraw saves the conversation and shows its form again: in place for a button, as a
// new message after a typed answer.
func (d Deps) forceRedraw(ctx context.Context, req Request, c convo, note string) (Response, error) {
	found, err := d.saveConvo(ctx, c)
	if err != nil {
		return Response{}, err
	}
	if !found {
		if req.Button != nil {
			return staleButton(req, "force"), nil
		}
		return Say("That /force has ended. Send /force to start again."), nil
	}
	return Response{Replies: []Reply{edit(req, d.forceFormText(c, note), d.forceFormKeyboard(c, req.UserID))}}, nil
}

func (d Deps) forceFormText(c convo, note string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Force <b>%s</b>", Escape(d.label(c.Conn, c.Builder)))
	if len(c.Fields) > 0 {
		b.WriteString(" with:")
	}
	for _, f := range c.Fields {
		v := c.Params[f.Name]
		if v == "" {
			v = "—"
		}
		fmt.Fprintf(&b, "\n• %s: <code>%s</code>", Escape(fieldLabel(f)), Escape(v))
	}
	b.WriteString("\n\nPress a parameter to change it, then ▶ Start.")
	if slices.ContainsFunc(c.Fields, func(f ci.ForceField) bool { return f.Required }) {
		b.WriteString(" * is required.")
	}
	if note != "" {
		b.WriteString("\n\n" + note)
	}
	return b.String()
}

func (d Deps) forceFormKeyboard(c convo, user int64) [][]Button {
	var kb [][]Button
	for _, f := range c.Fields {
		v := c.Params[f.Name]
		if f.Type == ci.FieldBool {
			v = map[bool]string{true: "yes", false: "no"}[isTrue(v)]
		}
		if v == "" {
			v = "—"
		}
		if len(v) > 24 {
			v = v[:21] + "…"
		}
		kb = append(kb, []Button{{Text: fieldLabel(f) + ": " + v, Data: btn{Act: "field", Field: f.Name, Conv: c.id, User: user}.data("force")}})
	}
	return append(kb, []Button{
		{Text: "▶ Start", Data: btn{Act: "go", Conv: c.id, User: user}.data("force")},
		{Text: "✖ Cancel", Data: btn{Act: "cancel", Conv: c.id, User: user}.data("force")},
	})
}

// fieldLabel is how a field is named to users, with * when it is required.
func fieldLabel(f ci.ForceField) string {
	l := f.Label
	if l == "" {
		l = f.Name
	}
	if f.Required {
		l += "*"
	}
	return l
}

func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// forceGo is the Start button: required fields, then the matrix with the builder, then the
// CI. Ending the conversation first means a second press of Start forces nothing.
func (d Deps) forceGo(ctx context.Context, req Request, c convo) (Response, error) {
	for _, f := range c.Fields {
		if f.Required && c.Params[f.Name] == "" {
			return d.forceRedraw(ctx, req, c, fmt.Sprintf("Set <b>%s</b> first.", Escape(fieldLabel(f))))
		}
	}
	args := paramsText(c)
	p, done, err := d.lastPress(ctx, req, c, "force", args, "forced", isForcer)
	if p == nil || err != nil {
		return done, err
	}
	params := map[string]string{}
	for k, v := range c.Params {
		params[k] = v
	}
	cctx, cancel := d.ciContext(ctx)
	res, err := p.(ci.Forcer).Force(cctx, ci.ForceRequest{
		Scheduler: c.Scheduler,
		Builder:   c.Builder,
		Owner:     fmt.Sprintf("%s (telegram %d)", displayName(req), req.UserID),
		Reason:    c.Params["reason"],
		Params:    params,
	})
	cancel()
	if timedOut(err) {
		// The request may have reached the CI and started a build: the audit says so, and
		// so does the chat, rather than "nothing was forced".
		d.audit(ctx, req, "force", args, c.Conn, c.Builder, auditFailed,
			fmt.Sprintf("the CI did not answer in %s; the build may have started", d.ciTimeoutText()))
		return d.noAnswer(c.Conn, "The build may have started all the same: /status shows it."), nil
	}
	if err != nil {
		d.audit(ctx, req, "force", args, c.Conn, c.Builder, auditFailed, err.Error())
		return Response{}, d.ciError(c.Conn, err, "force")
	}
	d.audit(ctx, req, "force", args, c.Conn, c.Builder, auditAllowed, res.Ref)
	ended, err := d.follow(ctx, req, c.Conn, c.Builder, res.RequestIDs)
	if err != nil {
		return Response{}, err
	}
	text := fmt.Sprintf("🚀 Forced <b>%s</b>", Escape(d.label(c.Conn, c.Builder)))
	if args != "" {
		text += " with <code>" + Escape(args) + "</code>"
	}
	switch {
	case len(ended) > 0:
		text += ". " + strings.Join(ended, " ")
	case len(res.RequestIDs) > 0:
		text += ". I will say here when it starts and how it ends."
	default:
		text += ". /status shows it." // the CI did not say which build it started
	}
	return Response{Notice: "Forced.", Replies: []Reply{{Edit: true, Text: text}}}, nil
}

// paramsText is the parameters as "name=value" in field order, for the audit log and the chat.
func paramsText(c convo) string {
	var parts []string
	for _, f := range c.Fields {
		if v := c.Params[f.Name]; v != "" {
			name := f.Name
			if strings.HasPrefix(name, "@") && f.Label != "" {
				// A provider's own field (GitHub's @ref, which no input can be called): its
				// label is what the user chose.
				name = f.Label
			}
			parts = append(parts, name+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func isForcer(p ci.Provider) bool { _, ok := p.(ci.Forcer); return ok }
