import sys

from LesionSegLogic.cli import main

sys.exit(main())
