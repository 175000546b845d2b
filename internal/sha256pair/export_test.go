package sha256pair

// forceGeneric turns the SHA extensions off until the returned func runs.
func forceGeneric() func() {
	old := hasSHANI
	hasSHANI = false
	return func() { hasSHANI = old }
}
