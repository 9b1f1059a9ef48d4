package agent

import (
	"log"
	"os"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func init() {
	if os.Getenv("PAHO_DEBUG") != "" {
		mqtt.DEBUG = log.New(os.Stderr, "[paho] ", log.Lmicroseconds)
		mqtt.ERROR = log.New(os.Stderr, "[paho-err] ", log.Lmicroseconds)
	}
}
