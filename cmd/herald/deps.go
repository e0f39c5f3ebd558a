package main

// Dependencies named by the design card that other packages are being written against; this
// file keeps them in go.mod until their users land, and goes away then.
import (
	_ "github.com/coder/websocket"
	_ "github.com/go-telegram/bot"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/robfig/cron/v3"
	_ "github.com/rs/zerolog"
	_ "gopkg.in/yaml.v3"
)
