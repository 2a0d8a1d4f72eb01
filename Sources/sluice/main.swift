import SluiceCLI
SluiceCommand.main()
