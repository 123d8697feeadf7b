import os

import json
