"""The agent workspace: the queue (:mod:`.queue`), one ticket (:mod:`.ticket`) and the create
form (:mod:`.create`). Customers get 403 here; their portal is a separate set of pages."""
