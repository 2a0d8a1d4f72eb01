import SluiceCLI
SluiceCommand.run()
