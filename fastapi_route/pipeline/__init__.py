"""scan -> validate -> compress -> save, shared by the CLI, the runtime and the build hook."""
