from positioning_cli.entry import main

main()
