from escher.cli.main import run

run()
