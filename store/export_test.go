package store

// ListenCheck lets the tests shorten how long a listening connection may be quiet before
// it is pinged.
var ListenCheck = &listenCheck
