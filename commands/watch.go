package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// Watch answers /watch [builder]: the chat gets the finished message of that builder's running
// builds whatever its /notify settings say. A watch ends with its build, and watching a build
// twice keeps one watch.
func Watch(d Deps) Command {
	return Command{
		Name:    "watch",
		Summary: "announce the completion of an active build",
		Help: "/watch shows the builders with running builds; press one to be told here when its builds finish.\n" +
			"/watch NAME watches that builder's running builds" + multiConnHint(d) + ". " +
			"The message comes whatever /notify says; the watch ends with the build.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if req.Button != nil {
				b, err := parseBtn("watch", req.Button.Data)
				if err != nil {
					return badButton(), nil
				}
				if b.Act == "page" {
					return d.watchKeyboard(ctx, req, b.Page)
				}
				return d.watchBuilder(ctx, req, b.Conn, b.Builder)
			}
			if len(req.Args) > 0 {
				conn, name := d.splitTyped(req.Args[0])
				return d.watchBuilder(ctx, req, conn, name)
			}
			return d.watchKeyboard(ctx, req, 0)
		}),
	}
}

// watchKeyboard offers the builders with running builds, page page of them.
func (d Deps) watchKeyboard(ctx context.Context, req Request, page int) (Response, error) {
	var rows [][]Button
	var problems []string
	seen := map[string]bool{}
	for _, p := range d.CI {
		cctx, cancel := d.ciContext(ctx)
		running, err := p.RunningBuilds(cctx)
		cancel()
		if err != nil {
			problems = append(problems, d.unreachable(p.Name(), err, "watch: running builds"))
			continue
		}
		for _, r := range running {
			key := p.Name() + "\x00" + r.Builder
			if seen[key] {
				continue
			}
			seen[key] = true
			rows = append(rows, []Button{{
				Text: d.label(p.Name(), r.Builder),
				Data: btn{Act: "builder", Conn: p.Name(), Builder: r.Builder}.data("watch"),
			}})
		}
	}
	if len(rows) == 0 {
		return Response{Replies: []Reply{edit(req, strings.Join(append(problems, "No builds are running."), "\n"), nil)}}, nil
	}
	kb, shown, pages := paginate(rows, page, func(p int) string { return btn{Act: "page", Page: p}.data("watch") })
	text := strings.Join(append(problems, "Which builder should I watch?"+pageNote(shown, pages)), "\n")
	return Response{Replies: []Reply{edit(req, text, kb)}}, nil
}

// watchBuilder watches every running build of a builder; conn "" means whichever connection
// has it.
func (d Deps) watchBuilder(ctx context.Context, req Request, conn, name string) (Response, error) {
	var builds []ci.Build
	for _, p := range d.CI {
		if conn != "" && p.Name() != conn {
			continue
		}
		cctx, cancel := d.ciContext(ctx)
		running, err := p.RunningBuilds(cctx)
		cancel()
		if err != nil && req.Button != nil {
			return d.pressFailed(p.Name(), err, "watch: running builds")
		}
		if err != nil {
			return Response{}, d.ciError(p.Name(), err, "watch: running builds")
		}
		for _, r := range running {
			if r.Builder == name {
				if r.Conn == "" {
					r.Conn = p.Name()
				}
				builds = append(builds, r)
			}
		}
	}
	shown := Escape(name)
	if conn != "" {
		shown = Escape(d.label(conn, name))
	}
	if len(builds) == 0 {
		return Response{Replies: []Reply{edit(req, fmt.Sprintf("%s has no running builds.", shown), nil)}}, nil
	}
	var lines []string
	for _, b := range builds {
		added, err := d.Store.AddWatch(ctx, req.ChatID, req.ThreadID, b.Conn, b.ID, b.Builder, req.UserID)
		if err != nil {
			return Response{}, err
		}
		if added {
			lines = append(lines, fmt.Sprintf("👀 Watching %s: I will say here when it finishes.", d.buildRef(b)))
		} else {
			lines = append(lines, fmt.Sprintf("👀 Already watching %s.", d.buildRef(b)))
		}
	}
	return Response{Replies: []Reply{edit(req, strings.Join(lines, "\n"), nil)}}, nil
}
