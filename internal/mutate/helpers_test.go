package mutate

// testOptions are the defaults with the native sleep forced, so tests do not depend on detection.
func testOptions() Options {
	o := DefaultOptions()
	o.PreStopMode = PreStopSleep
	return o
}
