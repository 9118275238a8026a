from jobwrapper.cli import main

main()
