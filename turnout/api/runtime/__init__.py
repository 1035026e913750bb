"""Protocol adapters of the data path: each turns its protocol's requests into invocations
for turnout.routing.dispatch and the outcomes back into its protocol's answers."""
