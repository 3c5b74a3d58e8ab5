from positioning_cli.cli import main

main()
